package branchname

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Vars are the values a template's variables take.
type Vars struct {
	IssueKey     string
	Summary      string
	IssueType    string
	ProjectKey   string // derived from IssueKey when empty
	DisplayName  string // the acting user
	SourceBranch string
}

// Options are the app-wide branch name settings; zero fields take the
// defaults.
type Options struct {
	Template  string
	Separator string
	MaxLength int
}

// Render fills the template in. ${issuekey} is upper case; ${summary},
// ${displayname} and an unmapped ${issuetype} are lower case, words joined
// by the separator, accents dropped ("é" → "e") and anything else that is
// not a letter or digit of the Latin alphabet left out; ${sourcebranch}
// and mapped issue types are used as they are. When the name is too long,
// the summary is shortened, at a word boundary when one fits (then, if
// that is not enough, the display name and the issue type); the issue key
// is always kept whole. The result passes Validate; errors are EInvalid for
// the template or issue key and EInvalidBranchName for a name that cannot
// be made valid.
func Render(o Options, v Vars) (string, error) {
	if o.Template == "" {
		o.Template = DefaultTemplate
	}
	if o.Separator == "" {
		o.Separator = DefaultSeparator
	}
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	if err := checkSeparator(o.Separator); err != nil {
		return "", err
	}
	parts, err := parse(o.Template)
	if err != nil {
		return "", err
	}
	key := upperASCII(v.IssueKey)
	project, err := IssueProject(key)
	if err != nil {
		return "", err
	}
	if v.ProjectKey != "" {
		project = v.ProjectKey
	}
	r := renderer{
		parts:     parts,
		sep:       o.Separator,
		issueType: v.IssueType,
		values:    map[variable]string{varIssueKey: key, varProjectKey: project, varSourceBranch: v.SourceBranch},
	}
	// No value longer than the whole name can be used: capping them first
	// keeps shortening cheap whatever the input.
	summary := capWords(words(v.Summary), o.Separator, o.MaxLength)
	displayName := capWords(words(v.DisplayName), o.Separator, o.MaxLength)
	issueType := capWords(words(v.IssueType), o.Separator, o.MaxLength)
	r.values[varSummary] = strings.Join(summary, o.Separator)
	r.values[varDisplayName] = strings.Join(displayName, o.Separator)
	r.values[varIssueType] = strings.Join(issueType, o.Separator)
	name := r.render()
	if utf8.RuneCountInString(name) > o.MaxLength {
		name = r.shorten(varSummary, summary, o.MaxLength)
	}
	if utf8.RuneCountInString(name) > o.MaxLength {
		name = r.shortenEvenly(map[variable][]string{varDisplayName: displayName, varIssueType: issueType}, o.MaxLength)
	}
	if err := Validate(name, key, o.MaxLength); err != nil {
		return "", err
	}
	return name, nil
}

// capWords keeps the words that, joined by sep, fit in limit characters,
// cutting the first word when it alone is longer.
func capWords(words []string, sep string, limit int) []string {
	n := 0
	for i, w := range words {
		if i > 0 {
			n += utf8.RuneCountInString(sep)
		}
		if n += len(w); n > limit {
			if i == 0 {
				return []string{w[:limit]}
			}
			return words[:i]
		}
	}
	return words
}

// shorten gives variable v as many of its words as fit in limit, or, when
// not even the first word fits, as much of that word as does, and returns
// the name rendered so.
func (r renderer) shorten(v variable, words []string, limit int) string {
	fits := func(s string) bool {
		r.values[v] = s
		return utf8.RuneCountInString(r.render()) <= limit
	}
	join := func(n int) string { return strings.Join(words[:n], r.sep) }
	// More words never render shorter: binary-search the last fit.
	lo, hi := 0, len(words)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(join(mid)) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	r.values[v] = join(lo)
	if lo > 0 || len(words) == 0 {
		return r.render()
	}
	first := words[0] // ASCII, so any byte is a cut point
	lo, hi = 0, len(first)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(first[:mid]) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	r.values[v] = first[:lo]
	return r.render()
}

// shortenEvenly takes words off the end of whichever variable is longest
// until the name fits in limit, cutting a last remaining word rather than
// dropping it when that is enough.
func (r renderer) shortenEvenly(vars map[variable][]string, limit int) string {
	for {
		name := r.render()
		if utf8.RuneCountInString(name) <= limit {
			return name
		}
		longest := literal
		for v, ws := range vars {
			if len(ws) > 0 && (longest == literal || len(r.values[v]) > len(r.values[longest]) ||
				len(r.values[v]) == len(r.values[longest]) && v < longest) {
				longest = v
			}
		}
		if longest == literal {
			return name // nothing left to shorten
		}
		ws := vars[longest]
		if len(ws) == 1 {
			vars[longest] = nil
			if name := r.shorten(longest, ws, limit); r.values[longest] != "" {
				return name
			}
			continue
		}
		vars[longest] = ws[:len(ws)-1]
		r.values[longest] = strings.Join(vars[longest], r.sep)
	}
}

type variable int

const (
	literal variable = iota
	varIssueKey
	varSummary
	varIssueType
	varProjectKey
	varDisplayName
	varSourceBranch
)

var variableNames = map[string]variable{
	"issuekey":     varIssueKey,
	"summary":      varSummary,
	"issuetype":    varIssueType,
	"projectkey":   varProjectKey,
	"displayname":  varDisplayName,
	"sourcebranch": varSourceBranch,
}

const knownVariables = "${issuekey}, ${summary}, ${issuetype}, ${issuetype:Type,value,…,default}, ${projectkey}, ${displayname}, ${sourcebranch}"

type part struct {
	v    variable
	text string // of a literal
	// mapping of ${issuetype:Bug,bugfix,Story,feature,default}: pairs of
	// issue type and value, then the default when the count is odd.
	mapping []string
}

// parse splits a template into literals and variables.
func parse(tmpl string) ([]part, error) {
	var parts []part
	for rest := tmpl; rest != ""; {
		i := strings.Index(rest, "${")
		if i < 0 {
			parts = append(parts, part{text: rest})
			break
		}
		if i > 0 {
			parts = append(parts, part{text: rest[:i]})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, templateError(`The branch name template has a "${" without a closing "}" at %q.`, clip(rest[i:]))
		}
		p, err := parseVariable(rest[i+2 : i+end])
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		rest = rest[i+end+1:]
	}
	if !slices.ContainsFunc(parts, func(p part) bool { return p.v == varIssueKey }) {
		return nil, templateError("The branch name template must contain ${issuekey}: branches are linked to issues by their key.")
	}
	return parts, nil
}

func parseVariable(s string) (part, error) {
	name, args, hasArgs := strings.Cut(s, ":")
	v, ok := variableNames[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return part{}, templateError("The branch name template uses an unknown variable ${%s}; the variables are %s.", clip(s), knownVariables)
	}
	if !hasArgs {
		return part{v: v}, nil
	}
	if v != varIssueType {
		return part{}, templateError("In the branch name template, only ${issuetype} takes a mapping (${%s} does not).", clip(name))
	}
	mapping := strings.Split(args, ",")
	for i := range mapping {
		mapping[i] = strings.TrimSpace(mapping[i])
		if strings.ContainsAny(mapping[i], "${") {
			return part{}, templateError(`The ${issuetype:…} mapping in the branch name template cannot contain "$" or "{".`)
		}
		if i%2 == 0 && i < len(mapping)-1 && mapping[i] == "" {
			return part{}, templateError("The ${issuetype:…} mapping in the branch name template has an empty issue type; write pairs of issue type and value, like ${issuetype:Bug,bugfix,Story,feature}.")
		}
	}
	if len(mapping) == 1 && mapping[0] == "" {
		return part{}, templateError("The ${issuetype:…} mapping in the branch name template is empty; write pairs of issue type and value, like ${issuetype:Bug,bugfix,Story,feature}.")
	}
	return part{v: varIssueType, mapping: mapping}, nil
}

func templateError(format string, args ...any) *relay.Error {
	return relay.Errorf(relay.EInvalid, format, args...)
}

func clip(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// checkSeparator accepts a separator of punctuation that can stand between
// two words of a branch name.
func checkSeparator(sep string) error {
	if strings.ContainsFunc(sep, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) ||
		refProblem("a"+sep+"b") != "" {
		return relay.Errorf(relay.EInvalid, "The separator %q cannot join words of a branch name; use one of \"-\", \"_\", \".\" or \"/\".", clip(sep))
	}
	return nil
}

// CheckTemplate checks a template before it is saved: known variables,
// closed "${", ${issuekey} present, and names it renders for a sample
// issue (with every issue type its mapping names) valid. Errors are
// EInvalid.
func CheckTemplate(tmpl string) error {
	parts, err := parse(tmpl)
	if err != nil {
		return err
	}
	sample := Vars{IssueKey: "ABC-123", Summary: "Fix the login page", ProjectKey: "ABC",
		DisplayName: "Jane Doe", SourceBranch: "main"}
	types := []string{"Gitrelay-sample-type"} // one no mapping names: the default
	for _, p := range parts {
		for i := 0; i+1 < len(p.mapping); i += 2 {
			types = append(types, p.mapping[i])
		}
	}
	for _, typ := range types {
		sample.IssueType = typ
		if _, err := Render(Options{Template: tmpl}, sample); err != nil {
			return templateError("The branch name template gives invalid names: %s", relay.ErrorMessage(err))
		}
	}
	return nil
}

// renderer renders one template for one issue, with the values of the
// variables as they are shortened.
type renderer struct {
	parts     []part
	sep       string
	issueType string
	values    map[variable]string
}

func (r renderer) value(p part) string {
	switch p.v {
	case literal:
		return p.text
	case varIssueType:
		return r.mapIssueType(p.mapping)
	}
	return r.values[p.v]
}

func (r renderer) mapIssueType(mapping []string) string {
	t := strings.TrimSpace(r.issueType)
	for i := 0; i+1 < len(mapping); i += 2 {
		if strings.EqualFold(mapping[i], t) {
			return mapping[i+1]
		}
	}
	if len(mapping)%2 == 1 {
		return mapping[len(mapping)-1]
	}
	return r.values[varIssueType]
}

// render fills the template in and tidies the result: a variable that is
// empty takes one joining character along with it ("bugfix/${summary}/…"
// does not give "bugfix//…"), the issue key is kept apart from letters and
// digits around it, separators, dots and slashes are trimmed from both
// ends, and a part ending in ".lock" ends in "-lock" instead.
func (r renderer) render() string {
	var b strings.Builder
	dropJoiner := false // an empty variable was just left out
	keyEnd := -1        // where the issue key last ended in b
	for _, p := range r.parts {
		s := r.value(p)
		if s == "" { // only variables can be empty
			dropJoiner = true
			continue
		}
		if dropJoiner {
			if b.Len() == 0 {
				s = strings.TrimLeftFunc(s, r.isJoiner)
			} else if last, _ := utf8.DecodeLastRuneInString(b.String()); r.isJoiner(last) {
				if first, size := utf8.DecodeRuneInString(s); r.isJoiner(first) {
					s = s[size:]
				}
			}
			dropJoiner = false
		}
		if s == "" {
			continue
		}
		if p.v != literal {
			str := b.String()
			if p.v == varIssueKey && str != "" && isWordByte(str[len(str)-1]) ||
				b.Len() == keyEnd && isDigit(s[0]) {
				b.WriteString(r.sep)
			}
		}
		b.WriteString(s)
		if p.v == varIssueKey {
			keyEnd = b.Len()
		}
	}
	name := strings.TrimFunc(b.String(), r.isJoiner)
	if strings.Contains(name, ".lock") {
		// Git keeps lock files as <ref>.lock, so no part of a name may end
		// that way; a summary joined with "." easily does ("remove.stale.lock").
		parts := strings.Split(name, "/")
		for i, p := range parts {
			if base, ok := strings.CutSuffix(p, ".lock"); ok {
				parts[i] = base + "-lock"
			}
		}
		name = strings.Join(parts, "/")
	}
	return name
}

// isJoiner reports whether c joins words: the separator's characters,
// "-", "_", "." and "/".
func (r renderer) isJoiner(c rune) bool {
	return strings.ContainsRune("-_./", c) || strings.ContainsRune(r.sep, c)
}

// words splits s into lower-case ASCII words: accented Latin letters lose
// their accents, apostrophes vanish ("don't" → "dont"), and every other
// character that is not a letter or digit ends a word.
func words(s string) []string {
	var ws []string
	var w []byte
	flush := func() {
		if len(w) > 0 {
			ws = append(ws, string(w))
			w = w[:0]
		}
	}
	for _, c := range s {
		c = unicode.ToLower(c)
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			w = append(w, byte(c))
		case c == '\'' || c == '’' || c == 'ʼ':
		case unicode.Is(unicode.Mn, c):
			// A combining accent of a decomposed letter ("e" + U+0301):
			// the letter stays, the accent goes.
		default:
			if t, ok := transliterations[c]; ok {
				w = append(w, t...)
			} else {
				flush()
			}
		}
	}
	flush()
	return ws
}

// transliterations maps lower-case accented Latin letters to ASCII.
var transliterations = func() map[rune]string {
	m := map[rune]string{}
	for _, t := range []struct{ from, to string }{
		{"àáâãäåāăąǎ", "a"}, {"æ", "ae"}, {"çćĉċč", "c"}, {"ďđð", "d"},
		{"èéêëēĕėęě", "e"}, {"ĝğġģ", "g"}, {"ĥħ", "h"}, {"ìíîïĩīĭįı", "i"},
		{"ĳ", "ij"}, {"ĵ", "j"}, {"ķĸ", "k"}, {"ĺļľŀł", "l"}, {"ñńņňŉŋ", "n"},
		{"òóôõöøōŏőǒ", "o"}, {"œ", "oe"}, {"ŕŗř", "r"}, {"śŝşšșſ", "s"},
		{"ß", "ss"}, {"ţťŧț", "t"}, {"þ", "th"}, {"ùúûüũūŭůűųǔ", "u"},
		{"ŵ", "w"}, {"ýÿŷ", "y"}, {"źżž", "z"},
	} {
		for _, c := range t.from {
			m[c] = t.to
		}
	}
	return m
}()
