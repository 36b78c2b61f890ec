package index

// Keys returns the issue keys text names, as Jira matches them: an
// upper-case project key (a letter, then letters, digits or "_") and an
// issue number without a leading zero, joined by "-"; the whole key only,
// as for branch creation (branchname.NamesIssue): not preceded by a letter,
// digit or "_" (XABC-1 names project XABC) and the number not followed by
// a digit (ABC-12 names another issue). known filters the projects (nil:
// any). Keys are returned once each, in order of first appearance.
func Keys(text string, known func(project string) bool) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !isUpper(c) || (i > 0 && isWord(text[i-1])) {
			continue
		}
		j := i + 1
		for j < len(text) && (isUpper(text[j]) || isDigit(text[j]) || text[j] == '_') {
			j++
		}
		if j+1 >= len(text) || text[j] != '-' || !isDigit(text[j+1]) || text[j+1] == '0' {
			i = j - 1
			continue
		}
		k := j + 1
		for k < len(text) && isDigit(text[k]) {
			k++
		}
		// Lower-case letters after the project key's start make it no key
		// (Abc-1); a key may not run into one (ABCd-1 is not ABC…).
		project := text[i:j]
		if known == nil || known(project) {
			key := text[i:k]
			seen := false
			for _, o := range out {
				if o == key {
					seen = true
					break
				}
			}
			if !seen {
				out = append(out, key)
			}
		}
		i = k - 1
	}
	return out
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isWord(c byte) bool  { return c == '_' || isDigit(c) || isUpper(c) || 'a' <= c && c <= 'z' }
