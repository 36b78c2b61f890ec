package host

import (
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// InvalidConfig is the CheckConfig error for one field of an integration's
// host settings; msg says what to change.
func InvalidConfig(field, msg string) *relay.Error {
	return &relay.Error{Code: relay.EInvalid, Message: msg, Fields: map[string]string{field: msg}}
}

// ParseBaseURL checks a base URL an administrator typed for a self-hosted
// git host: absolute http:// or https:// (http is allowed for test servers
// and TLS-terminating proxies), with a host, without user name, password,
// query or fragment. It returns the URL with scheme and host in lower case
// and no trailing slash. Errors are relay.EInvalid with Fields{"base_url"}.
// example is a URL to show in messages, such as "https://git.example.com".
func ParseBaseURL(raw, example string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	bad := func(msg string) (*url.URL, error) {
		return nil, InvalidConfig("base_url", msg)
	}
	if raw == "" {
		return bad("Enter the address of the server, such as " + example + ".")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return bad("This is not a URL; enter the address of the server, such as " + example + ".")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme == "" || u.Host == "":
		return bad("Enter a full address starting with https:// (or http://), such as " + example + ".")
	case u.Scheme != "https" && u.Scheme != "http":
		return bad("The address must start with https:// (or http://), such as " + example + ".")
	case u.User != nil:
		return bad("Remove the user name and password from the address; credentials go in the token field.")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("Remove the query (the part from \"?\") from the address.")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("Remove the fragment (the part from \"#\") from the address.")
	case u.Port() != "" && !validPort(u.Port()):
		return bad("The port in the address is not a number between 1 and 65535.")
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func validPort(p string) bool {
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return false
		}
	}
	return n > 0
}
