package jiratest

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http/httptest"
)

// Serve starts a fake Atlassian outside a test (a soak or load run);
// stop stops it.
func Serve() (f *Fake, stop func(), err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	f = &Fake{Key: key, sites: map[string]*Site{}, userToks: map[string]tokenOwner{}, sysToks: map[string]string{},
		codes: map[string]codeGrant{}, refreshes: map[string]string{}, extraKeys: map[string]*rsa.PublicKey{}}
	srv := httptest.NewServer(f.handler())
	f.URL = srv.URL
	return f, srv.Close, nil
}
