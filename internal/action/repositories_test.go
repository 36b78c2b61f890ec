package action

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestCheckRepositories(t *testing.T) {
	atLimit := make([]string, MaxRepositories)
	for i := range atLimit {
		atLimit[i] = fmt.Sprint(i)
	}
	tests := []struct {
		name    string
		in      []string
		want    []string
		invalid bool
	}{
		{"nil includes every repository and stays nil", nil, nil, false},
		{"an empty list includes none and stays empty", []string{}, []string{}, false},
		{"ids are trimmed and duplicates dropped, order kept", []string{" 7", "3", "7 ", "3"}, []string{"7", "3"}, false},
		{"an empty id is refused", []string{"1", "  "}, nil, true},
		{"an overlong id is refused", []string{strings.Repeat("x", maxRepositoryID+1)}, nil, true},
		{"the limit itself is accepted", atLimit, atLimit, false},
		{"one over the limit is refused", append(append([]string{}, atLimit...), "extra"), nil, true},
		{"duplicates do not count towards the limit", append(append([]string{}, atLimit...), "0"), atLimit, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkRepositories(tt.in)
			if tt.invalid {
				e, ok := relay.AsError(err)
				if !ok || e.Code != relay.EInvalid || e.Fields["repositories"] == "" {
					t.Fatalf("got %v, want invalid_request with a repositories field message", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestNotIncluded(t *testing.T) {
	all := relay.Integration{Name: "Company GitHub"}
	chosen := relay.Integration{Name: "Company GitHub", Repositories: []string{"42"}}
	tests := []struct {
		name     string
		in       relay.Integration
		id, repo string
		refused  bool
		says     string
	}{
		{"every repository: any id is included", all, "99", "", false, ""},
		{"a chosen id is included", chosen, "42", "", false, ""},
		{"another id is refused, naming it", chosen, "99", "", true, `The repository with id "99" is not included in integration Company GitHub.`},
		{"another repository is refused by name once the host named it", chosen, "99", "acme/tools", true, "Repository acme/tools is not included in integration Company GitHub."},
		{"no id yet is left to the check after the host lookup", chosen, "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := notIncluded(tt.in, tt.id, tt.repo)
			if !tt.refused {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EForbidden {
				t.Fatalf("got %v, want forbidden", err)
			}
			if !strings.HasPrefix(e.Message, tt.says) || !strings.Contains(e.Message, "An administrator can include the repository in the integration's settings.") {
				t.Fatalf("got message %q, want it to start %q and say how to include the repository", e.Message, tt.says)
			}
		})
	}
}
