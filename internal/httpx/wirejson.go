package httpx

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The development panel is the answer gitrelay sends most: every issue
// view asks for it. Its JSON is appended by hand here rather than by
// encoding/json's reflection, which took a fifth of the panel's CPU. The
// bytes are exactly encoding/json's (HTML-escaped strings, RFC 3339 times,
// omitempty as the struct tags say); TestDevelopmentJSONIsEncodingJSONs and
// FuzzDevelopmentJSON hold them to it. A field added to a wire type must be
// added here too: those tests fail until it is.

// jsonAppender is a value that appends its own JSON (WriteJSON uses it).
type jsonAppender interface {
	AppendJSON(b []byte) []byte
}

var _ jsonAppender = Development{}

// AppendJSON appends d's JSON to b.
func (d Development) AppendJSON(b []byte) []byte {
	b = append(b, `{"issue_key":`...)
	b = appendJSONString(b, d.IssueKey)
	b = append(b, `,"branches":`...)
	b = appendJSONList(b, d.Branches, BranchRecord.appendJSON)
	b = append(b, `,"commits":`...)
	b = appendJSONList(b, d.Commits, Commit.appendJSON)
	b = append(b, `,"pull_requests":`...)
	b = appendJSONList(b, d.PullRequests, PullRequestRecord.appendJSON)
	b = append(b, `,"integrations":`...)
	b = appendJSONList(b, d.Integrations, DevIntegration.appendJSON)
	return append(b, '}')
}

func (r BranchRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, r.Name)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	b = appendListed(b, r.IntegrationID, r.RepositoryID, r.Repository, r.Origin, r.State, r.LastCommit, r.UpdatedAt)
	return appendCreated(b, r.ActedAs, r.CreatedBy, r.CreatedAt)
}

func (r PullRequestRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"number":`...)
	b = strconv.AppendInt(b, int64(r.Number), 10)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, r.Title)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, r.Source)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, r.Target)
	b = append(b, `,"draft":`...)
	b = strconv.AppendBool(b, r.Draft)
	b = appendListed(b, r.IntegrationID, r.RepositoryID, r.Repository, r.Origin, r.State, r.LastCommit, r.UpdatedAt)
	if r.Author != "" {
		b = append(b, `,"author":`...)
		b = appendJSONString(b, r.Author)
	}
	return appendCreated(b, r.ActedAs, r.CreatedBy, r.CreatedAt)
}

// appendListed appends what branches and pull requests share: where they
// are, where they come from, their state and last commit.
func appendListed(b []byte, integrationID, repositoryID, repository, origin, state string, last *CommitRef, updated time.Time) []byte {
	b = append(b, `,"integration_id":`...)
	b = appendJSONString(b, integrationID)
	b = append(b, `,"repository_id":`...)
	b = appendJSONString(b, repositoryID)
	b = append(b, `,"repository":`...)
	b = appendJSONString(b, repository)
	b = append(b, `,"origin":`...)
	b = appendJSONString(b, origin)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, state)
	if last != nil {
		b = append(b, `,"last_commit":`...)
		b = last.appendJSON(b)
	}
	b = append(b, `,"updated_at":`...)
	return appendJSONTime(b, updated)
}

// appendCreated appends the attribution of what gitrelay created, and
// closes the object.
func appendCreated(b []byte, acted *ActedAs, by string, at *time.Time) []byte {
	if acted != nil {
		b = append(b, `,"acted_as":{"via":`...)
		b = appendJSONString(b, string(acted.Via))
		b = append(b, `,"login":`...)
		b = appendJSONString(b, acted.Login)
		b = append(b, '}')
	}
	if by != "" {
		b = append(b, `,"created_by":`...)
		b = appendJSONString(b, by)
	}
	if at != nil {
		b = append(b, `,"created_at":`...)
		b = appendJSONTime(b, *at)
	}
	return append(b, '}')
}

func (c *CommitRef) appendJSON(b []byte) []byte {
	b = append(b, `{"sha":`...)
	b = appendJSONString(b, c.SHA)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, c.Message)
	b = append(b, `,"author":`...)
	b = appendJSONString(b, c.Author)
	b = append(b, `,"date":`...)
	b = appendJSONTime(b, c.Date)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, c.URL)
	return append(b, '}')
}

func (c Commit) appendJSON(b []byte) []byte {
	b = append(b, `{"sha":`...)
	b = appendJSONString(b, c.SHA)
	b = append(b, `,"short_sha":`...)
	b = appendJSONString(b, c.ShortSHA)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, c.Message)
	b = append(b, `,"author_name":`...)
	b = appendJSONString(b, c.AuthorName)
	b = append(b, `,"author_email":`...)
	b = appendJSONString(b, c.AuthorEmail)
	b = append(b, `,"date":`...)
	b = appendJSONTime(b, c.Date)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, c.URL)
	b = append(b, `,"branches":`...)
	b = appendJSONList(b, c.Branches, func(s string, b []byte) []byte { return appendJSONString(b, s) })
	b = append(b, `,"integration_id":`...)
	b = appendJSONString(b, c.IntegrationID)
	b = append(b, `,"repository_id":`...)
	b = appendJSONString(b, c.RepositoryID)
	b = append(b, `,"repository":`...)
	b = appendJSONString(b, c.Repository)
	if c.AuthorUser != nil {
		b = append(b, `,"author_user":{"username":`...)
		b = appendJSONString(b, c.AuthorUser.Username)
		b = append(b, `,"display_name":`...)
		b = appendJSONString(b, c.AuthorUser.DisplayName)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (in DevIntegration) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, in.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, in.Name)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, in.Kind)
	b = append(b, `,"require_user_pat":`...)
	b = strconv.AppendBool(b, in.RequireUserPAT)
	b = append(b, `,"user_token_status":`...)
	b = appendJSONString(b, in.UserTokenStatus)
	b = append(b, `,"setup_url":`...)
	b = appendJSONString(b, in.SetupURL)
	return append(b, '}')
}

// appendJSONList appends a list as encoding/json does: null when nil.
func appendJSONList[T any](b []byte, list []T, appendOne func(T, []byte) []byte) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOne(v, b)
	}
	return append(b, ']')
}

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds) for the years it accepts; the wire types hold times read
// from the database or the hosts, well inside them.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const jsonHex = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does with HTML
// escaping on (its default): <, > and & as \u003c, \u003e and \u0026,
// control characters escaped, invalid UTF-8 as \ufffd, and U+2028 and
// U+2029 escaped for JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', jsonHex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
