package httpx_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/httpx"
)

// trickyStrings are what a host or a user may put in a name, a title or a
// commit message: everything JSON or HTML must escape, multi-byte and
// invalid UTF-8, JavaScript's line separators.
var trickyStrings = []string{
	"", "ABC-1", "feature/ABC-1-log-in", `quote " and backslash \`, "<script>alert(1)</script> & co",
	"tab\tnew\nline\rreturn\bback\fform", "\x00\x01\x1f\x7f", "héllo wörld ✓ 日本語 🚀", "\xff\xfe broken \xc3",
	"line\u2028separator\u2029paragraph", "\u00a0no-break", "https://example.com/a?b=1&c=<2>",
}

// fill sets every field v holds to a value drawn from r: strings from
// trickyStrings, pointers and lists sometimes nil or empty. It walks the
// types by reflection, so a field added to a wire type is filled too and
// the comparison with encoding/json covers it.
func fill(v reflect.Value, r *rand.Rand) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(trickyStrings[r.IntN(len(trickyStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int64:
		v.SetInt(r.Int64N(1<<40) - 1<<20)
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), r)
		v.Set(p)
	case reflect.Slice:
		switch n := r.IntN(5); n {
		case 0:
			v.SetZero()
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fill(s.Index(i), r)
			}
			v.Set(s)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+1800), time.FixedZone("", -8*3600)}
			t := time.Unix(r.Int64N(4_000_000_000), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), r)
		}
	default:
		panic("fill: no values for " + v.Type().String())
	}
}

// encodingJSON is what json.Encoder with HTML escaping writes for v.
func encodingJSON(t testing.TB, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The panel's hand-written JSON is byte for byte what encoding/json writes,
// for panels with every field drawn at random (a fixed seed: the same
// panels on every run).
func TestDevelopmentJSONIsEncodingJSONs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var d httpx.Development
		fill(reflect.ValueOf(&d).Elem(), r)
		want := encodingJSON(t, d)
		w := httptest.NewRecorder()
		httpx.WriteJSON(w, 200, d)
		if got := w.Body.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("panel %d:\n got %s\nwant %s", i, got, want)
		}
		if got := w.Header().Get("Content-Length"); got != strconv.Itoa(len(want)) {
			t.Fatalf("panel %d: Content-Length %s, want %d", i, got, len(want))
		}
	}
}

// FuzzDevelopmentJSON: any strings in a panel are escaped as encoding/json
// escapes them.
func FuzzDevelopmentJSON(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		at := time.Unix(1_700_000_000, 0).UTC()
		d := httpx.Development{IssueKey: a,
			Branches: []httpx.BranchRecord{{Name: a, URL: b, LastCommit: &httpx.CommitRef{Message: b, Author: a, Date: at}, UpdatedAt: at,
				ActedAs: &httpx.ActedAs{Login: a}, CreatedBy: b, CreatedAt: &at}},
			Commits:      []httpx.Commit{{SHA: a, Message: b, Branches: []string{a, b}, AuthorUser: &httpx.AuthorUser{Username: a, DisplayName: b}}},
			PullRequests: []httpx.PullRequestRecord{{Title: a, Source: b, Author: a, UpdatedAt: at}},
			Integrations: []httpx.DevIntegration{{Name: a, SetupURL: b}}}
		w := httptest.NewRecorder()
		httpx.WriteJSON(w, 200, d)
		if want := encodingJSON(t, d); !bytes.Equal(w.Body.Bytes(), want) {
			t.Fatalf("got %s\nwant %s", w.Body.Bytes(), want)
		}
	})
}
