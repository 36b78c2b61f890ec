package index

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// MaxRefsBytes caps a ref advertisement: 64 MiB is some 700,000 refs.
const MaxRefsBytes = 64 << 20

// indexedRef reports whether the index keeps a ref: branches, and the pull
// request heads hosts advertise (GitHub and Gitea refs/pull/N/head, GitLab
// refs/merge-requests/N/head), whose change tells that a pull request was
// opened or pushed to.
func indexedRef(name string) bool {
	if strings.HasPrefix(name, "refs/heads/") {
		return true
	}
	for _, prefix := range []string{"refs/pull/", "refs/merge-requests/"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			n, head, ok := strings.Cut(rest, "/")
			return ok && head == "head" && n != "" && strings.Trim(n, "0123456789") == ""
		}
	}
	return false
}

// readRefs asks the repository for its refs, as `git ls-remote` does: one
// GET of info/refs (git's smart HTTP protocol, version 0), sent by
// gitrelay's outbound client (egress policy, size cap) with the
// credential for the repository's origin only. No git process runs.
func readRefs(ctx context.Context, client *http.Client, remote relay.GitRemote) (map[string]string, error) {
	req, err := http.NewRequestWithContext(host.WithBodyLimit(ctx, MaxRefsBytes), http.MethodGet,
		strings.TrimRight(remote.URL, "/")+"/info/refs?service=git-upload-pack", nil)
	if err != nil {
		return nil, relay.Errorf(relay.EInvalid, "The repository's git address is not valid.")
	}
	req.Header.Set("Authorization", remote.Authorization.Token())
	req.Header.Set("User-Agent", "git/2 (gitrelay)")
	resp, err := client.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, relay.Errorf(relay.ECredentialRejected, "The host refused the integration's credential for git (HTTP %d): it may have expired, been revoked, or lack read access to the repository's code. Update the integration's credential on its page, or give its account read access (on CodeCommit, the codecommit:GitPull permission).", resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return nil, relay.Errorf(relay.ENotFound, "The host answered that the repository is not there (HTTP 404).")
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, relay.Errorf(relay.ERateLimited, "The host is limiting requests; the repository is read again later.")
	case resp.StatusCode != http.StatusOK:
		return nil, relay.Errorf(relay.EHostError, "The host answered HTTP %d to the request for the repository's refs.", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-git-upload-pack-advertisement" {
		return nil, relay.Errorf(relay.EHostError, "The host does not serve git's smart HTTP protocol at the repository's address.")
	}
	refs, err := parseRefs(resp.Body)
	if err != nil {
		var tooLarge *host.BodyTooLargeError
		if errors.As(err, &tooLarge) {
			return nil, relay.Errorf(relay.EHostError, "The repository advertises more refs than gitrelay reads (%s).", tooLarge.Error())
		}
		return nil, relay.Errorf(relay.EHostError, "The host's list of refs could not be read: %s.", err)
	}
	return refs, nil
}

// transportError says what went wrong reaching the host, without the
// address a name resolved to (host.NotAllowedError says only its class).
func transportError(err error) error {
	var refused *host.NotAllowedError
	if errors.As(err, &refused) {
		return relay.Errorf(relay.EHostError, "%s", refused.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return relay.Errorf(relay.EHostTimeout, "The host did not answer in time.")
	}
	return relay.Errorf(relay.EHostError, "The host could not be reached.")
}

// parseRefs reads a version 0 ref advertisement of git-upload-pack: the
// service line and a flush, then "SHA REF\x00capabilities" and "SHA REF"
// lines, then a flush. It keeps the indexed refs (indexedRef).
func parseRefs(r io.Reader) (map[string]string, error) {
	br := bufio.NewReader(r)
	refs := map[string]string{}
	first, service := true, false
	for {
		line, flush, err := readPkt(br)
		if err != nil {
			return nil, err
		}
		if flush {
			if service {
				service = false
				continue
			}
			return refs, nil
		}
		line = strings.TrimSuffix(line, "\n")
		if first && strings.HasPrefix(line, "# service=") {
			first, service = false, true
			continue
		}
		if first {
			if v, ok := strings.CutPrefix(line, "version "); ok && v != "0" && v != "1" {
				return nil, fmt.Errorf("protocol %s is not version 0", v)
			}
			if strings.HasPrefix(line, "version ") {
				first = false
				continue
			}
		}
		first = false
		line, _, _ = strings.Cut(line, "\x00")
		sha, name, ok := strings.Cut(line, " ")
		if !ok || !isSHA(sha) {
			return nil, fmt.Errorf("a ref line is malformed")
		}
		if indexedRef(name) {
			refs[name] = sha
		}
	}
}

// readPkt reads one pkt-line: four hex digits of length (including
// themselves), then the payload; "0000" is a flush.
func readPkt(r *bufio.Reader) (string, bool, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("the list of refs ended early")
		}
		return "", false, err
	}
	n, err := strconv.ParseUint(string(head[:]), 16, 16)
	if err != nil {
		return "", false, fmt.Errorf("a pkt-line length is not hex")
	}
	switch {
	case n == 0:
		return "", true, nil
	case n < 4:
		return "", false, fmt.Errorf("a pkt-line length is too short")
	}
	buf := make([]byte, n-4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", false, fmt.Errorf("the list of refs ended early")
	}
	return string(buf), false, nil
}

func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// digest names a set of refs: equal digests, equal refs.
func digest(refs map[string]string) string {
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s %s\n", refs[n], n)
	}
	return hex.EncodeToString(h.Sum(nil))
}
