package httpx_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzDecode feeds the strict request decoder arbitrary bodies: it never
// panics, refuses with one invalid_request error whose message stays short
// (it quotes little of the body), and what it accepts is a single object
// that reads back the same after encoding.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"name":"x","count":2,"draft":true,"enabled":null,"projects":["ABC"],"options":{"a":"b"},"credential":{"token":"t"}}`,
		`{}`, ``, `[]`, `null`, `{"name":1}`, `{"nmae":"x"}`, `{"name":"a"} {}`, `{"name":"a"}}`, `{"name": "a`,
		`{"count":1e400}`, `{"options":{"k":1}}`, "\xef\xbb\xbf{}", `{"name":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v request
		err := httpx.Decode(bytes.NewReader(body), &v)
		if err != nil {
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EInvalid || e.Message == "" {
				t.Fatalf("refusal %v is not one invalid_request error with a message", err)
			}
			if len(e.Message) > 300 {
				t.Fatalf("the refusal quotes %d bytes", len(e.Message))
			}
			for k := range e.Fields {
				if len(k) > 4*70 {
					t.Fatalf("a field name of %d bytes is quoted", len(k))
				}
			}
			return
		}
		if len(body) > httpx.MaxBody {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var w request
		if err := httpx.Decode(bytes.NewReader(again), &w); err != nil {
			t.Fatalf("its own encoding %s is refused: %v", again, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("decoded %+v, re-decoded %+v", v, w)
		}
	})
}
