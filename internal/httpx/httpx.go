// Package httpx is the one toolkit of gitrelay's HTTP edges: the JSON API
// (internal/server), the pages (internal/web) and the Forge remote
// endpoints (internal/jira). Each edge writes JSON, writes errors, decodes
// request bodies, reads issue keys from paths and shapes action results
// with this package only, so that they cannot drift apart: a client of the
// API and the Forge panel read the same answers, field for field.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// MaxBody bounds every JSON request body an edge decodes.
const MaxBody = 1 << 20

// maxQuoted bounds what an error message quotes of the request (a field
// name, a key), so an answer never echoes an attacker's megabyte back.
const maxQuoted = 64

// WriteJSON answers v as JSON with the status. HTML-significant characters
// are escaped, so a JSON answer opened in a browser cannot run markup.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	// Encoded whole first, so that the answer has its Content-Length and
	// goes out in one write rather than in chunks.
	p := jsonBuffers.Get().(*[]byte)
	defer putJSONBuffer(p)
	b, err := appendJSON((*p)[:0], v)
	*p = b
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err == nil {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	}
	w.WriteHeader(status)
	if err == nil {
		_, _ = w.Write(b)
	}
}

// appendJSON appends v's JSON and a newline, as json.Encoder writes it
// with HTML escaping: by v's own AppendJSON when it has one.
func appendJSON(b []byte, v any) ([]byte, error) {
	if a, ok := v.(jsonAppender); ok {
		return append(a.AppendJSON(b), '\n'), nil
	}
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(true)
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// jsonBuffers keeps the buffers WriteJSON encodes into.
var jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}

// putJSONBuffer returns p to jsonBuffers, unless an unusually large
// answer grew it: that memory is not kept.
func putJSONBuffer(p *[]byte) {
	if cap(*p) > 1<<20 {
		return
	}
	jsonBuffers.Put(p)
}

// ErrorBody is the JSON shape of every error on every edge.
type ErrorBody struct {
	Code        string            `json:"code"`
	Message     string            `json:"message"`
	Fields      map[string]string `json:"fields,omitempty"`
	SetupURL    string            `json:"setup_url,omitempty"`
	NewTokenURL string            `json:"new_token_url,omitempty"`
	URL         string            `json:"url,omitempty"`
	Scope       string            `json:"scope,omitempty"`
	RetryAfter  int               `json:"retry_after,omitempty"`
	// RequestID is the request's X-Request-ID, to quote when reporting
	// the failure; the same id is on the server's log lines.
	RequestID string `json:"request_id,omitempty"`
}

// ErrorResponse is the whole error answer. The links and fields are
// repeated at the top level for clients that read them there.
type ErrorResponse struct {
	Error       ErrorBody         `json:"error"`
	Fields      map[string]string `json:"fields,omitempty"`
	SetupURL    string            `json:"setup_url,omitempty"`
	NewTokenURL string            `json:"new_token_url,omitempty"`
	URL         string            `json:"url,omitempty"`
}

// ErrorOf is the answer for err and its HTTP status (httperr's mapping).
// Causes (relay.Error.Err) are never part of it.
func ErrorOf(err error) (ErrorResponse, int) {
	code := relay.ErrorCode(err)
	body := ErrorBody{Code: code, Message: relay.ErrorMessage(err)}
	if e, ok := relay.AsError(err); ok {
		body.Fields, body.SetupURL, body.NewTokenURL, body.URL, body.Scope = e.Fields, e.SetupURL, e.NewTokenURL, e.URL, e.Scope
		if code == relay.ECredentialRejected || code == relay.EScopeMissing {
			// Adapter codes that escaped translation: say what they mean.
			body.Code = relay.EHostError
		}
		if e.RetryAfter > 0 {
			body.RetryAfter = int(e.RetryAfter.Seconds() + 0.999)
		}
	}
	return ErrorResponse{Error: body, Fields: body.Fields, SetupURL: body.SetupURL, NewTokenURL: body.NewTokenURL, URL: body.URL},
		httperr.Status(code)
}

// WriteError answers err with its status and JSON body. Only server-side
// failures (5xx) are logged, with the cause: the others are the caller's
// to act on.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	out, status := ErrorOf(err)
	out.Error.RequestID = RequestID(r.Context())
	if status >= http.StatusInternalServerError && log != nil {
		level := slog.LevelWarn
		if status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "code", out.Error.Code, "err", err)
	}
	if out.Error.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(out.Error.RetryAfter))
	}
	WriteJSON(w, status, out)
}

// DecodeJSON reads the request's JSON body into v strictly; see Decode.
func DecodeJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return relay.Errorf(relay.EInvalid, "The request body is empty; send a JSON object.")
	}
	return Decode(r.Body, v)
}

// Decode reads one JSON object into v strictly: at most MaxBody bytes, an
// object and nothing after it, no field v does not have, every field of
// the right type. Every refusal is one invalid_request error that says
// what is wrong (and, for a field, which one) without quoting more than a
// few characters of the input.
func Decode(body io.Reader, v any) error {
	raw, err := io.ReadAll(io.LimitReader(body, MaxBody+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || len(raw) > MaxBody {
		return relay.Errorf(relay.EInvalid, "The request body is larger than %d KiB; send less.", MaxBody>>10)
	}
	if err != nil {
		return relay.Errorf(relay.EInvalid, "The request body could not be read; send it again.")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return relay.Errorf(relay.EInvalid, "The request body is empty; send a JSON object.")
	}
	if raw[0] != '{' {
		return relay.Errorf(relay.EInvalid, "The request body must be a JSON object ({...}).")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return relay.Errorf(relay.EInvalid, "The request body must hold a single JSON object, with nothing after it.")
	}
	return nil
}

func decodeError(err error) error {
	var (
		ute *json.UnmarshalTypeError
		se  *json.SyntaxError
	)
	switch {
	case errors.As(err, &ute) && ute.Field != "":
		f := quote(ute.Field)
		return &relay.Error{Code: relay.EInvalid, Message: "The request body's field " + f + " has the wrong type: it must be " + jsonType(ute.Type) + ".",
			Fields: map[string]string{f: "must be " + jsonType(ute.Type)}}
	case errors.As(err, &ute):
		return relay.Errorf(relay.EInvalid, "The request body must be a JSON object ({...}).")
	case errors.As(err, &se):
		return relay.Errorf(relay.EInvalid, "The request body is not valid JSON (at byte %d); send a JSON object.", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return relay.Errorf(relay.EInvalid, "The request body ends in the middle of its JSON; send the whole object.")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = quote(strings.Trim(f, `"`))
		return &relay.Error{Code: relay.EInvalid, Message: "The request body has an unknown field " + f + "; see the API reference for the fields of this request.",
			Fields: map[string]string{f: "unknown field"}}
	}
	// What remains (e.g. a number too large for its field) is still the
	// client's to fix; the decoder's words may name Go types, so they are
	// not sent.
	return relay.Errorf(relay.EInvalid, "The request body is not a JSON object of the expected shape; see the API reference.")
}

// quote bounds a piece of the request quoted in an answer.
func quote(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if utf8.RuneCountInString(s) > maxQuoted {
		s = string([]rune(s)[:maxQuoted]) + "…"
	}
	return s
}

func jsonType(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a value of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value of another type"
}

// IssueKey reads the {key} path value as an issue key (upper-cased) and
// its project key. Anything else names no issue: 404, saying what an
// issue key looks like.
func IssueKey(r *http.Request) (key, project string, err error) {
	key = strings.ToUpper(strings.TrimSpace(r.PathValue("key")))
	project, err = branchname.IssueProject(key)
	if err != nil {
		return "", "", &relay.Error{Code: relay.ENotFound, Message: relay.ErrorMessage(err)}
	}
	return key, project, nil
}
