package relay

import (
	"fmt"
	"strings"
	"testing"
)

func TestCredentialNeverPrints(t *testing.T) {
	c := NewCredential("tok-CANARY", "", "pw-CANARY", "", "sk-CANARY")
	type holder struct{ cred Credential }
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v %#v", holder{c}, holder{c}, holder{c}), fmt.Sprintf("%+v", &holder{c})} {
		if strings.Contains(s, "CANARY") {
			t.Fatalf("a credential printed its secret: %s", s)
		}
	}
}
