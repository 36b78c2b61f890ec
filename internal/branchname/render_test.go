package branchname

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestRenderVariables(t *testing.T) {
	issue := Vars{IssueKey: "ABC-123", Summary: "Fix the Login page!", IssueType: "Bug",
		DisplayName: "Zoë O'Brien", SourceBranch: "release/2.0"}
	tests := []struct {
		behaviour string
		o         Options
		v         Vars
		want      string
	}{
		{"default template: key, then the summary lower case", Options{}, issue, "ABC-123-fix-the-login-page"},
		{"issue key upper case", Options{}, with(issue, func(v *Vars) { v.IssueKey = "abc-123" }), "ABC-123-fix-the-login-page"},
		{"summary loses characters git refuses and punctuation",
			Options{}, with(issue, func(v *Vars) { v.Summary = "Crash: user's e-mail has [brackets], ~tildes~ & 50% \"quotes\"..." }),
			"ABC-123-crash-users-e-mail-has-brackets-tildes-50-quotes"},
		{"separator between summary words, not in the template text", Options{Separator: "_"}, issue, "ABC-123-fix_the_login_page"},
		{"separator can be a slash", Options{Separator: "/", Template: "${issuekey}/${summary}"}, issue, "ABC-123/fix/the/login/page"},
		{"issue type lower case", Options{Template: "${issuetype}/${issuekey}"}, with(issue, func(v *Vars) { v.IssueType = "New Feature" }), "new-feature/ABC-123"},
		{"issue type keeps its dash", Options{Template: "${issuetype}/${issuekey}"}, with(issue, func(v *Vars) { v.IssueType = "Sub-task" }), "sub-task/ABC-123"},
		{"project key derived from the issue key", Options{Template: "${projectkey}/${issuekey}"}, issue, "ABC/ABC-123"},
		{"project key given", Options{Template: "${projectkey}/${issuekey}"}, with(issue, func(v *Vars) { v.ProjectKey = "ABC" }), "ABC/ABC-123"},
		{"display name normalised like the summary", Options{Template: "${displayname}/${issuekey}"}, issue, "zoe-obrien/ABC-123"},
		{"source branch as it is", Options{Template: "${sourcebranch}/${issuekey}"}, issue, "release/2.0/ABC-123"},
		{"variable names in any case", Options{Template: "${IssueKey}-${SUMMARY}"}, issue, "ABC-123-fix-the-login-page"},
		{"literal text kept", Options{Template: "feature/${issuekey}_${summary}"}, issue, "feature/ABC-123_fix-the-login-page"},
		{"empty summary leaves no trailing separator", Options{}, with(issue, func(v *Vars) { v.Summary = "?!" }), "ABC-123"},
		{"empty leading variable leaves no leading slash", Options{Template: "${issuetype}/${issuekey}-${summary}"},
			with(issue, func(v *Vars) { v.IssueType = "" }), "ABC-123-fix-the-login-page"},
		{"empty variable between separators leaves one", Options{Template: "${issuekey}-${displayname}-${summary}"},
			with(issue, func(v *Vars) { v.DisplayName = "" }), "ABC-123-fix-the-login-page"},
		{"empty variable between slashes leaves one", Options{Template: "bugfix/${summary}/${issuekey}"},
			with(issue, func(v *Vars) { v.Summary = "" }), "bugfix/ABC-123"},
		{"trailing literal separators, dots and slashes trimmed", Options{Template: "${issuekey}-${summary}-./"}, issue, "ABC-123-fix-the-login-page"},
		{"summary starting with a digit is kept apart from the key", Options{Template: "${issuekey}${summary}"},
			with(issue, func(v *Vars) { v.Summary = "2FA broken" }), "ABC-123-2fa-broken"},
		{"key kept apart from the words before it", Options{Template: "${summary}${issuekey}"}, issue, "fix-the-login-page-ABC-123"},
		{"a part ending in .lock is changed", Options{Separator: ".", Template: "${summary}/${issuekey}.${issuetype}"},
			with(issue, func(v *Vars) { v.Summary = "Remove stale lock"; v.IssueType = "lock" }), "remove.stale-lock/ABC-123-lock"},
		{"apostrophes join words", Options{}, with(issue, func(v *Vars) { v.Summary = "Don’t crash on user's input" }), "ABC-123-dont-crash-on-users-input"},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			got, err := Render(tt.o, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func with(v Vars, change func(*Vars)) Vars {
	change(&v)
	return v
}

func TestRenderIssueTypeMapping(t *testing.T) {
	const withDefault = "${issuetype:Bug,bugfix,Story,feature,misc}/${issuekey}"
	const noDefault = "${issuetype: Bug , bugfix , Story , feature}/${issuekey}"
	tests := []struct {
		behaviour, tmpl, issueType, want string
	}{
		{"mapped type", withDefault, "Bug", "bugfix/ABC-1"},
		{"type matched ignoring case", withDefault, "STORY", "feature/ABC-1"},
		{"unmapped type takes the default", withDefault, "Task", "misc/ABC-1"},
		{"empty type takes the default", withDefault, "", "misc/ABC-1"},
		{"no default: unmapped type lower case", noDefault, "Task", "task/ABC-1"},
		{"spaces around elements ignored", noDefault, "bug", "bugfix/ABC-1"},
		{"empty value leaves no slash", "${issuetype:Bug,,feature}/${issuekey}", "Bug", "ABC-1"},
		{"default only", "${issuetype:work}/${issuekey}", "Bug", "work/ABC-1"},
		{"value used as written", "${issuetype:Bug,Fix/urgent}/${issuekey}", "bug", "Fix/urgent/ABC-1"},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			got, err := Render(Options{Template: tt.tmpl}, Vars{IssueKey: "ABC-1", IssueType: tt.issueType})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderUnicodeSummaries(t *testing.T) {
	tests := []struct {
		behaviour, summary, want string
	}{
		{"French accents dropped", "Café crème brûlée", "ABC-1-cafe-creme-brulee"},
		{"German sharp s and umlauts", "Straße über Öl", "ABC-1-strasse-uber-ol"},
		{"Polish letters", "Łódź żółć", "ABC-1-lodz-zolc"},
		{"Nordic letters", "Ærø Øresund Þór", "ABC-1-aero-oresund-thor"},
		{"Turkish dotted and dotless i", "İstanbul ılık", "ABC-1-istanbul-ilik"},
		{"decomposed accents", "nai\u0308ve cafe\u0301", "ABC-1-naive-cafe"},
		{"other scripts dropped", "修复登录 bug", "ABC-1-bug"},
		{"only other scripts leaves the key", "Исправить ошибку", "ABC-1"},
		{"emoji dropped", "🚀 Launch 🎉 day", "ABC-1-launch-day"},
		{"invisible characters split words", "zero\u200bwidth", "ABC-1-zero-width"},
		{"invalid UTF-8 dropped", "bad\xffbyte", "ABC-1-bad-byte"},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			got, err := Render(Options{}, Vars{IssueKey: "ABC-1", Summary: tt.summary})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.summary, got, tt.want)
			}
		})
	}
}

func TestRenderShortensTheSummaryAtAWordBoundary(t *testing.T) {
	v := Vars{IssueKey: "ABC-123", Summary: "Users cannot sign in after resetting their password on mobile"}
	full, _ := Render(Options{MaxLength: 1000}, v)
	for limit := len("ABC-123"); limit < len(full); limit++ {
		got, err := Render(Options{MaxLength: limit}, v)
		if err != nil {
			t.Fatalf("max %d: %v", limit, err)
		}
		if len(got) > limit {
			t.Fatalf("max %d: %q is %d characters", limit, got, len(got))
		}
		if limit >= len("ABC-123-users") {
			// Whole words only, as many as fit.
			if !strings.HasPrefix(full, got) || full[len(got)] != '-' {
				t.Fatalf("max %d: %q is not cut at a word boundary of %q", limit, got, full)
			}
			if next := strings.IndexByte(full[len(got)+1:], '-'); next >= 0 && len(got)+1+next <= limit {
				t.Fatalf("max %d: %q leaves out a word that fits", limit, got)
			}
		}
	}
	if got, _ := Render(Options{MaxLength: len(full)}, v); got != full {
		t.Errorf("exact fit: %q, want %q", got, full)
	}
}

func TestRenderCutsALongFirstWordRatherThanDropIt(t *testing.T) {
	got, err := Render(Options{MaxLength: 20}, Vars{IssueKey: "ABC-123", Summary: "Supercalifragilisticexpialidocious bug"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ABC-123-supercalifra"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

func TestRenderNeverCutsTheIssueKey(t *testing.T) {
	long := strings.Repeat("word ", 100)
	for _, tmpl := range []string{"${summary}-${issuekey}", "${issuekey}-${summary}", "x/${summary}/${issuekey}/y"} {
		got, err := Render(Options{Template: tmpl, MaxLength: 30}, Vars{IssueKey: "PROJ-98765", Summary: long})
		if err != nil {
			t.Fatalf("%s: %v", tmpl, err)
		}
		if !containsKey(got, "PROJ-98765") || utf8.RuneCountInString(got) > 30 {
			t.Errorf("%s: %q", tmpl, got)
		}
	}
	// When the name is too long even without a summary, it is an error.
	_, err := Render(Options{MaxLength: 5}, Vars{IssueKey: "ABC-123", Summary: "fix"})
	checkInvalid(t, err, "The branch name is 7 characters long; the maximum is 5.")
}

func TestRenderShortensOtherFreeTextWhenTheSummaryIsNotEnough(t *testing.T) {
	got, err := Render(Options{Template: "${displayname}/${issuetype}/${issuekey}-${summary}", MaxLength: 30},
		Vars{IssueKey: "ABC-123", Summary: "Fix it", IssueType: "Very long custom issue type", DisplayName: "Maximilian Alexander von Hohenberg"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "maximilian/very-long/ABC-123"; got != want {
		t.Errorf("Render = %q, want %q (summary dropped first, then the display name and issue type shortened)", got, want)
	}
}

func TestRenderOfHugeInputStaysCheap(t *testing.T) {
	huge := strings.Repeat("ab ", 100_000) // the preview API takes summary and type from the query string
	start := time.Now()
	got, err := Render(Options{Template: "${displayname}/${issuetype}/${issuekey}-${summary}", MaxLength: 30},
		Vars{IssueKey: "A-1", Summary: huge, DisplayName: huge, IssueType: huge})
	if err != nil || len(got) > 30 {
		t.Fatalf("Render = %q, %v", got, err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Render took %v; shortening must not be quadratic in the input", elapsed)
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		behaviour string
		o         Options
		v         Vars
		code      string
	}{
		{"invalid issue key", Options{}, Vars{IssueKey: "not a key"}, relay.EInvalid},
		{"missing issue key", Options{}, Vars{}, relay.EInvalid},
		{"unknown variable", Options{Template: "${issuekey}-${summery}"}, Vars{IssueKey: "A-1"}, relay.EInvalid},
		{"separator with a space", Options{Separator: " "}, Vars{IssueKey: "A-1"}, relay.EInvalid},
		{"separator of two dots", Options{Separator: ".."}, Vars{IssueKey: "A-1"}, relay.EInvalid},
		{"separator with a letter", Options{Separator: "x"}, Vars{IssueKey: "A-1"}, relay.EInvalid},
		{"template gives two dots", Options{Template: "${issuekey}..${summary}"}, Vars{IssueKey: "A-1", Summary: "x"}, relay.EInvalidBranchName},
		{"source branch git refuses", Options{Template: "${sourcebranch}/${issuekey}"}, Vars{IssueKey: "A-1", SourceBranch: "a b"}, relay.EInvalidBranchName},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			got, err := Render(tt.o, tt.v)
			if code := relay.ErrorCode(err); code != tt.code {
				t.Errorf("Render = %q, %v; want an %s error", got, err, tt.code)
			}
		})
	}
}

func TestCheckTemplate(t *testing.T) {
	for _, tmpl := range []string{
		DefaultTemplate,
		"feature/${issuekey}-${summary}",
		"${issuetype:Bug,bugfix,Story,feature,task}/${issuekey}-${summary}",
		"${projectkey}/${displayname}/${issuekey}",
		"${sourcebranch}-${issuekey}",
		"$${issuekey}$",
	} {
		if err := CheckTemplate(tmpl); err != nil {
			t.Errorf("CheckTemplate(%q) = %v", tmpl, err)
		}
	}
	tests := []struct {
		behaviour, tmpl, want string
	}{
		{"unknown variable", "${issuekey}-${summery}", "unknown variable ${summery}"},
		{"unterminated", "${issuekey}-${summary", `a "${" without a closing "}"`},
		{"no issue key", "${summary}", "must contain ${issuekey}"},
		{"empty", "", "must contain ${issuekey}"},
		{"mapping on another variable", "${issuekey}-${summary:a,b}", "only ${issuetype} takes a mapping"},
		{"empty mapping", "${issuetype:}/${issuekey}", "mapping in the branch name template is empty"},
		{"empty issue type in mapping", "${issuetype:,bugfix,feature}/${issuekey}", "has an empty issue type"},
		{"mapping value git refuses", "${issuetype:Bug,bug fix}/${issuekey}", "invalid names: Branch names cannot contain spaces."},
		{"literal git refuses", "${issuekey}..${summary}", `invalid names: Branch names cannot contain "..".`},
		{"digit glued to the key", "${issuekey}2", "must contain the issue key ABC-123"},
		{"longer than any branch", strings.Repeat("x", 300) + "-${issuekey}", "the maximum is 250"},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			err := CheckTemplate(tt.tmpl)
			if relay.ErrorCode(err) != relay.EInvalid || !strings.Contains(relay.ErrorMessage(err), tt.want) {
				t.Errorf("CheckTemplate(%q) = %v, want an %s error containing %q", tt.tmpl, err, relay.EInvalid, tt.want)
			}
		})
	}
}

func FuzzRender(f *testing.F) {
	f.Add("${issuekey}-${summary}", "-", 250, "ABC-123", "Fix the login page", "Bug", "Jane Doe", "main")
	f.Add("${issuetype:Bug,bugfix,Story,feature,misc}/${issuekey}-${summary}", "_", 30, "abc-1", "Café crème brûlée", "story", "Zoë", "release/2.0")
	f.Add("${summary}${issuekey}${displayname}", ".", 12, "X-9", "2fa .. @{ ~^:", "", "-", "-x")
	f.Add("${sourcebranch}/${issuekey}/${summary}/", "/", 8, "AB_C-10", "a b c d e f", "Sub-task", "", "")
	f.Fuzz(func(t *testing.T, tmpl, sep string, max int, key, summary, issueType, displayName, source string) {
		// Random templates and keys are mostly refused: also try them
		// with the parts Render needs.
		for _, tmpl := range []string{tmpl, tmpl + "${issuekey}", "${issuekey}" + tmpl} {
			for _, key := range []string{key, "ABC-123"} {
				v := Vars{IssueKey: key, Summary: summary, IssueType: issueType, DisplayName: displayName, SourceBranch: source}
				name, err := Render(Options{Template: tmpl, Separator: sep, MaxLength: max}, v)
				if err != nil {
					continue
				}
				if err := Validate(name, key, max); err != nil {
					t.Fatalf("Render(%q) gave %q, which Validate refuses: %v", tmpl, name, err)
				}
				if !gitCheckRefFormat("refs/heads/" + name) {
					t.Fatalf("Render(%q) gave %q, which git refuses", tmpl, name)
				}
			}
		}
	})
}

// FuzzRenderAcceptsAnyIssue: with a template CheckTemplate accepts and the
// settings the API allows, no summary, issue type or user name makes
// Render fail.
func FuzzRenderAcceptsAnyIssue(f *testing.F) {
	f.Add("Fix the login page", "Bug", "Jane Doe", uint8(0), uint8(20))
	f.Add("Remove stale lock", "lock", "Zoë", uint8(2), uint8(0))
	f.Add("2fa .. @{ ~^: \x00 \u202e", "", "-", uint8(3), uint8(230))
	templates := []string{
		DefaultTemplate,
		"${issuetype:Bug,bugfix,Story,feature}/${issuekey}-${summary}",
		"${displayname}/${issuekey}${summary}",
		"${summary}.${issuekey}.${issuetype}",
		"${projectkey}/${issuetype}/${summary}/${issuekey}/${displayname}",
	}
	separators := []string{"-", "_", ".", "/"}
	f.Fuzz(func(t *testing.T, summary, issueType, displayName string, choice, extra uint8) {
		tmpl := templates[int(choice)%len(templates)]
		if err := CheckTemplate(tmpl); err != nil {
			t.Fatal(err)
		}
		o := Options{Template: tmpl, Separator: separators[int(choice/8)%len(separators)], MaxLength: 20 + int(extra)%231}
		v := Vars{IssueKey: "ABC-123", Summary: summary, IssueType: issueType, DisplayName: displayName, SourceBranch: "main"}
		if _, err := Render(o, v); err != nil {
			t.Fatalf("Render(%+v, %+v): %v", o, v, err)
		}
	})
}
