package hostsim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The AWS CodeCommit front-end speaks two protocols at the same address:
// CodeCommit's AWS JSON 1.1 (POST /, the operation in X-Amz-Target) and
// STS's Query protocol (POST / with a form body, Action=GetCallerIdentity,
// XML answers), so that one simulator URL serves as both the endpoint and
// the sts_endpoint of an integration.
//
// How the host-neutral state maps onto CodeCommit:
//   - A token is an IAM user's access key pair (see AccessKeyPair); every
//     request must carry a valid SigV4 signature made with the pair's
//     secret, or it is refused as AWS refuses it. Token.Scopes lists the IAM
//     actions the user's policies allow ("codecommit:CreateBranch"); nil
//     allows every action. GetCallerIdentity needs no permission, as on AWS.
//   - A repository's CodeCommit name is its Name; its owner stands for the
//     AWS account holding it, so that ARNs and account ids read
//     "arn:aws:codecommit:REGION:OWNER:NAME" (real account ids are twelve
//     digits). The IAM users themselves belong to the account
//     SimCallerAccount.
//   - Repositories a login is not a member of, private ones, answer
//     RepositoryDoesNotExistException, as repositories of an account the
//     user's keys do not reach do. A login may read the repositories it is
//     a member of (and public ones), may write only where it may push, and
//     ListRepositories lists only the latter: the simulated IAM policies
//     grant whole repositories.
//   - Pull request ids are unique per account and region on CodeCommit, not
//     per repository: a pull request opened through this front-end is
//     renumbered to the repository id times ccPRStride plus its number in
//     the repository, and Sim.PullRequests and Sim.ClosePullRequest use
//     that id.
//   - CodeCommit has no "pull request already exists" error and would open
//     a duplicate; the simulator holds one open pull request per source and
//     target, so it answers such a request with the existing one, as an
//     idempotent retry would be answered.
//   - Git (Git.Wrap with LayoutCodeCommit) serves repository NAME at
//     /v1/repos/NAME to an access key ID and the SigV4-derived git password
//     of its secret (ccGitAuthenticate), for a key allowed
//     codecommit:GitPull.
//   - Throttling is answered as CodeCommit does (HTTP 400
//     ThrottlingException); the simulator adds a Retry-After header saying
//     how long the injected fault lasts, which CodeCommit itself never
//     sends.
//
// Every call is an HTTP POST. The shared handler logs POSTs as writes, so
// read operations are handed to it as GET requests: the write log holds
// only branch creations and deletions and pull request creations, as for
// other hosts. A Fault targets reads with Method "GET".

const (
	ccTargetPrefix = "CodeCommit_20150413."
	ccContentType  = "application/x-amz-json-1.1"
	stsXMLNS       = "https://sts.amazonaws.com/doc/2011-06-15/"
	// SimCallerAccount is the AWS account the simulated IAM users belong to.
	SimCallerAccount = "111122223333"
	// ccPageSize is how many repositories, branches or pull request ids a
	// page holds: smaller than CodeCommit's own pages, so that pagination
	// shows in tests.
	ccPageSize = 100
	// ccBatchMax is BatchGetRepositories' limit on names per call.
	ccBatchMax = 25
	// ccPRStride separates the pull request ids of two repositories.
	ccPRStride = 100000
	// ccMaxSkew is how far a request's X-Amz-Date may be from the
	// simulator's clock, as on AWS.
	ccMaxSkew = 15 * time.Minute
	ccCreated = 1767225600 // 2026-01-01T00:00:00Z, every object's creation date
)

// ccOps maps CodeCommit operations to the simulator's.
var ccOps = map[string]Op{
	"ListRepositories":     OpListRepos,
	"BatchGetRepositories": OpListRepos,
	"GetRepository":        OpGetRepo,
	"ListBranches":         OpListBranches,
	"GetBranch":            OpGetBranch,
	"CreateBranch":         OpCreateBranch,
	"DeleteBranch":         OpDeleteBranch,
	"CreatePullRequest":    OpCreatePullRequest,
	"ListPullRequests":     OpListPullRequests,
	"GetPullRequest":       OpGetPullRequest,
}

// ccWrites are the operations that change the host.
var ccWrites = map[Op]bool{OpCreateBranch: true, OpDeleteBranch: true, OpCreatePullRequest: true}

// AccessKeyPair is the IAM access key pair a simulator token stands for. A
// Value of the form "AKID:SECRET" is that pair; any other Value is the
// secret access key of a pair whose key id is derived from it, so that
// tests can turn any token value into a credential and the key id reveals
// nothing of the secret.
func AccessKeyPair(value string) (accessKeyID, secretAccessKey string) {
	if id, secret, ok := strings.Cut(value, ":"); ok && id != "" && secret != "" {
		return id, secret
	}
	sum := sha256.Sum256([]byte("access-key-id\x00" + value))
	return "AKIA" + base32.StdEncoding.EncodeToString(sum[:10]), value
}

// CodeCommit serves the AWS CodeCommit API (AWS JSON 1.1) and the STS
// GetCallerIdentity call (Query protocol) at "/".
func (s *Sim) CodeCommit() http.Handler {
	cc := newCodeCommit(s)
	h := s.handler(cc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op, ok := cc.route(r); ok && !ccWrites[op] && r.Method == http.MethodPost {
			r = r.Clone(context.WithValue(r.Context(), ccSignedMethod{}, r.Method))
			r.Method = http.MethodGet
		}
		h.ServeHTTP(w, r)
	})
}

type codeCommit struct{ sim *Sim }

// ccSignedMethod keys the method a read was sent (and signed) with, before
// CodeCommit presented it to the shared handler as a GET.
type ccSignedMethod struct{}

func signedMethod(r *http.Request) string {
	if m, ok := r.Context().Value(ccSignedMethod{}).(string); ok {
		return m
	}
	return r.Method
}

func newCodeCommit(s *Sim) *codeCommit { return &codeCommit{sim: s} }

// isSTS tells an STS Query call from a CodeCommit JSON call.
func isSTS(r *http.Request) bool { return r.Header.Get("X-Amz-Target") == "" }

func (c *codeCommit) route(r *http.Request) (Op, bool) {
	if r.URL.Path != "/" {
		return "", false
	}
	if isSTS(r) {
		return OpIdentity, true
	}
	op, ok := ccOps[strings.TrimPrefix(r.Header.Get("X-Amz-Target"), ccTargetPrefix)]
	return op, ok
}

func (c *codeCommit) token(r *http.Request) string {
	sig, ok := parseSigV4(r.Header.Get("Authorization"))
	if !ok {
		return ""
	}
	if t, found := c.sim.tokenByAccessKey(sig.accessKeyID); found {
		return t.Value
	}
	return ""
}

// tokenByAccessKey finds the token whose access key id is id.
func (s *Sim) tokenByAccessKey(id string) (Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for value, t := range s.tokens {
		if k, _ := AccessKeyPair(value); k == id {
			return t.Token, true
		}
	}
	return Token{}, false
}

func (c *codeCommit) describe(r *http.Request, body []byte) (repo, ref string) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		BranchName     string `json:"branchName"`
		Targets        []struct {
			RepositoryName  string `json:"repositoryName"`
			SourceReference string `json:"sourceReference"`
		} `json:"targets"`
	}
	if isSTS(r) || json.Unmarshal(body, &in) != nil {
		return "", ""
	}
	name, ref := in.RepositoryName, in.BranchName
	if len(in.Targets) > 0 {
		name, ref = in.Targets[0].RepositoryName, strings.TrimPrefix(in.Targets[0].SourceReference, "refs/heads/")
	}
	if v, found := c.sim.ccRepo(name, ""); found {
		return v.FullName(), ref
	}
	return name, ref
}

// ccRepo finds the repository CodeCommit calls name, preferring one login
// can see when several owners have a repository of that name.
func (s *Sim) ccRepo(name, login string) (repoView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []repoView
	for _, r := range s.repos {
		if strings.EqualFold(r.Name, name) {
			found = append(found, view(r, login))
		}
	}
	if len(found) == 0 {
		return repoView{}, false
	}
	slices.SortFunc(found, func(a, b repoView) int {
		if a.Visible != b.Visible {
			if a.Visible {
				return -1
			}
			return 1
		}
		return strings.Compare(a.FullName(), b.FullName())
	})
	return found[0], true
}

// awsError is a refusal, worded per protocol when answered.
type awsError struct {
	status  int
	code    string // the CodeCommit (AWS JSON) error code
	message string
}

// stsCodes words authentication refusals in STS's Query protocol.
var stsCodes = map[string]struct {
	code   string
	status int
}{
	"MissingAuthenticationTokenException": {"MissingAuthenticationToken", http.StatusForbidden},
	"UnrecognizedClientException":         {"InvalidClientTokenId", http.StatusForbidden},
	"InvalidSignatureException":           {"SignatureDoesNotMatch", http.StatusForbidden},
	"ExpiredTokenException":               {"ExpiredToken", http.StatusBadRequest},
	"AccessDeniedException":               {"AccessDenied", http.StatusForbidden},
	"ThrottlingException":                 {"Throttling", http.StatusBadRequest},
	"ServiceUnavailableException":         {"ServiceUnavailable", http.StatusServiceUnavailable},
	"InternalFailure":                     {"InternalFailure", http.StatusInternalServerError},
}

func (c *codeCommit) writeError(w http.ResponseWriter, r *http.Request, e *awsError) {
	w.Header().Set("X-Amzn-RequestId", c.requestID())
	if isSTS(r) {
		code, status := e.code, e.status
		if m, ok := stsCodes[e.code]; ok {
			code = m.code
			if status == http.StatusBadRequest {
				status = m.status
			}
		}
		kind := "Sender"
		if status >= 500 {
			kind = "Receiver"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<ErrorResponse xmlns=%q>\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
			stsXMLNS, kind, xmlText(code), xmlText(e.message), c.requestID())
		return
	}
	c.writeJSON(w, e.status, map[string]string{"__type": e.code, "message": e.message})
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (c *codeCommit) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ccContentType)
	w.Header().Set("X-Amzn-RequestId", c.requestID())
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (c *codeCommit) requestID() string { return "4f3c1a52-7d2e-4b8a-9c61-0e5d2b7a9f10" }

func (c *codeCommit) fault(w http.ResponseWriter, r *http.Request, f Fault) {
	e := &awsError{status: f.Status}
	switch {
	case f.RetryAfter > 0:
		if e.status == 0 {
			e.status = http.StatusBadRequest
		}
		e.code, e.message = "ThrottlingException", "Rate exceeded"
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.RetryAfter.Seconds())), 10))
	case e.status == http.StatusUnauthorized:
		e.code, e.message = "UnrecognizedClientException", "The security token included in the request is invalid."
	case e.status == http.StatusForbidden:
		e.code, e.message = "AccessDeniedException", "User is not authorized to perform this operation."
	case e.status == http.StatusNotFound:
		e.code, e.message = "RepositoryDoesNotExistException", "The repository does not exist."
	case e.status == http.StatusTooManyRequests:
		e.code, e.message = "ThrottlingException", "Rate exceeded"
	case e.status == http.StatusServiceUnavailable:
		e.code, e.message = "ServiceUnavailableException", "Service Unavailable"
	case e.status >= 500:
		e.code, e.message = "InternalFailure", "We encountered an internal error. Please try again."
	default:
		e.code, e.message = "ValidationException", http.StatusText(e.status)
	}
	if f.Message != "" {
		e.message = f.Message
	}
	c.writeError(w, r, e)
}

// ccCaller is who a signed request comes from.
type ccCaller struct {
	tok    Token
	region string
}

func (k ccCaller) arn() string {
	return "arn:aws:iam::" + SimCallerAccount + ":user/" + k.tok.Login
}

// may reports whether the caller's IAM policies allow action.
func (k ccCaller) may(action string) bool {
	return k.tok.Scopes == nil || slices.Contains(k.tok.Scopes, "codecommit:"+action) || slices.Contains(k.tok.Scopes, "codecommit:*")
}

func (c *codeCommit) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		c.writeError(w, r, &awsError{http.StatusBadRequest, "SerializationException", "Could not read the request body."})
		return
	}
	if r.URL.Path != "/" {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	service := "codecommit"
	if isSTS(r) {
		service = "sts"
	}
	caller, aerr := c.authenticate(r, body, service)
	if aerr != nil {
		c.writeError(w, r, aerr)
		return
	}
	if isSTS(r) {
		c.getCallerIdentity(w, r, body, caller)
		return
	}
	action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), ccTargetPrefix)
	handle := map[string]func(ccCaller, []byte, string) (any, *awsError){
		"ListRepositories":     c.listRepositories,
		"BatchGetRepositories": c.batchGetRepositories,
		"GetRepository":        c.getRepository,
		"ListBranches":         c.listBranches,
		"GetBranch":            c.getBranch,
		"CreateBranch":         c.createBranch,
		"DeleteBranch":         c.deleteBranch,
		"CreatePullRequest":    c.createPullRequest,
		"ListPullRequests":     c.listPullRequests,
		"GetPullRequest":       c.getPullRequest,
	}[action]
	if handle == nil || !strings.HasPrefix(r.Header.Get("X-Amz-Target"), ccTargetPrefix) {
		c.writeError(w, r, &awsError{http.StatusBadRequest, "UnknownOperationException", ""})
		return
	}
	if !caller.may(action) {
		c.writeError(w, r, &awsError{http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: codecommit:%s because no identity-based policy allows the codecommit:%s action",
			caller.arn(), action, action)})
		return
	}
	out, aerr := handle(caller, body, action)
	if aerr != nil {
		c.writeError(w, r, aerr)
		return
	}
	c.writeJSON(w, http.StatusOK, out)
}

// authenticate checks the request's SigV4 signature against the secret of
// the access key it names, and the key's state.
func (c *codeCommit) authenticate(r *http.Request, body []byte, service string) (ccCaller, *awsError) {
	invalidSig := func(msg string) (ccCaller, *awsError) {
		return ccCaller{}, &awsError{http.StatusBadRequest, "InvalidSignatureException", msg}
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return ccCaller{}, &awsError{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	sig, ok := parseSigV4(header)
	if !ok {
		return invalidSig("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters of an AWS4-HMAC-SHA256 signature.")
	}
	tok, found := c.sim.tokenByAccessKey(sig.accessKeyID)
	_, st := c.sim.authenticate(tok.Value)
	if !found || st == authRevoked {
		// A deleted or deactivated key is as unknown as one never issued.
		return ccCaller{}, &awsError{http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if sig.service != service {
		return invalidSig(fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service))
	}
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, sig.date) {
		return invalidSig("The request must contain a valid X-Amz-Date header matching the credential scope's date.")
	}
	now := c.sim.now()
	if at.Before(now.Add(-ccMaxSkew)) || at.After(now.Add(ccMaxSkew)) {
		return invalidSig(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-ccMaxSkew).UTC().Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z")))
	}
	_, secret := AccessKeyPair(tok.Value)
	if !sig.verify(r, body, secret, amzDate) {
		return invalidSig("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	if st == authExpired {
		return ccCaller{}, &awsError{http.StatusBadRequest, "ExpiredTokenException", "The security token included in the request is expired"}
	}
	return ccCaller{tok: tok, region: sig.region}, nil
}

// ccGitAuthenticate checks a CodeCommit git request's basic
// authentication as CodeCommit's git endpoint does: the user is an access
// key ID, the password the time it was made (20060102T150405Z) followed by
// the hex SigV4 signature, for the service codecommit in region, of
// "GIT\n/v1/repos/NAME\n\nhost:HOST\n\nhost\n". The simulator
// recomputes it with the key's secret: a wrong secret, region or host, a
// time more than 15 minutes past or in the future, or a key whose IAM
// policies do not allow codecommit:GitPull is refused (authUnknown). There
// is no anonymous access.
func (s *Sim) ccGitAuthenticate(r *http.Request, region, name string) (Token, authStatus) {
	id, password, ok := r.BasicAuth()
	if !ok {
		return Token{}, authUnknown
	}
	tok, found := s.tokenByAccessKey(id)
	if !found {
		return Token{}, authUnknown
	}
	if _, st := s.authenticate(tok.Value); st != authOK {
		return Token{}, st
	}
	stamp, sig, ok := strings.Cut(password, "Z")
	at, err := time.Parse("20060102T150405", stamp)
	if !ok || err != nil || len(sig) != 64 {
		return Token{}, authUnknown
	}
	now := s.now()
	if at.Before(now.Add(-ccMaxSkew)) || at.After(now) {
		return Token{}, authExpired
	}
	date := stamp[:8]
	canonical := "GIT\n/v1/repos/" + name + "\n\nhost:" + r.Host + "\n\nhost\n"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + stamp + "\n" + date + "/" + region + "/codecommit/aws4_request\n" + hex.EncodeToString(sum[:])
	_, secret := AccessKeyPair(tok.Value)
	key := []byte("AWS4" + secret)
	for _, part := range []string{date, region, "codecommit", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(key, toSign))), []byte(sig)) {
		return Token{}, authUnknown
	}
	if !(ccCaller{tok: tok}).may("GitPull") {
		return Token{}, authUnknown
	}
	return tok, authOK
}

// sigV4 is a parsed AWS4-HMAC-SHA256 Authorization header.
type sigV4 struct {
	accessKeyID, date, region, service string
	signedHeaders                      string
	signature                          string
}

func parseSigV4(header string) (sigV4, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(header), "AWS4-HMAC-SHA256 ")
	if !ok {
		return sigV4{}, false
	}
	var v sigV4
	var credential string
	for part := range strings.SplitSeq(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = val
		case "SignedHeaders":
			v.signedHeaders = val
		case "Signature":
			v.signature = val
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || v.signedHeaders == "" || v.signature == "" {
		return sigV4{}, false
	}
	v.accessKeyID, v.date, v.region, v.service = scope[0], scope[1], scope[2], scope[3]
	return v, true
}

// verify recomputes the signature of r with secret, independently of any
// AWS SDK, so that a client signing wrongly is caught.
func (v sigV4) verify(r *http.Request, body []byte, secret, amzDate string) bool {
	names := strings.Split(v.signedHeaders, ";")
	if !slices.Contains(names, "host") || !slices.IsSorted(names) {
		return false
	}
	var canonical strings.Builder
	canonical.WriteString(signedMethod(r) + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical.WriteString(path + "\n")
	canonical.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, name := range names {
		var value string
		switch name {
		case "host":
			value = r.Host
		case "content-length":
			value = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(name)
			for i, s := range vals {
				vals[i] = strings.Join(strings.Fields(s), " ")
			}
			value = strings.Join(vals, ",")
		}
		canonical.WriteString(name + ":" + value + "\n")
	}
	canonical.WriteString("\n" + v.signedHeaders + "\n")
	payload := sha256.Sum256(body)
	canonical.WriteString(hex.EncodeToString(payload[:]))

	request := sha256.Sum256([]byte(canonical.String()))
	scope := strings.Join([]string{v.date, v.region, v.service, "aws4_request"}, "/")
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(request[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{v.date, v.region, v.service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	return hmac.Equal([]byte(want), []byte(v.signature))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, awsEscape(k)+"="+awsEscape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func awsEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func (c *codeCommit) getCallerIdentity(w http.ResponseWriter, r *http.Request, body []byte, k ccCaller) {
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "GetCallerIdentity" {
		c.writeError(w, r, &awsError{http.StatusBadRequest, "InvalidAction", "Could not find operation " + form.Get("Action") + " for version " + form.Get("Version")})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", c.requestID())
	fmt.Fprintf(w, "<GetCallerIdentityResponse xmlns=%q>\n  <GetCallerIdentityResult>\n    <Arn>%s</Arn>\n    <UserId>%s</UserId>\n    <Account>%s</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
		stsXMLNS, xmlText(k.arn()), ccUserID(k.tok.Login), SimCallerAccount, c.requestID())
}

// ccUserID is an IAM user's unique id ("AIDA..."), stable per login.
func ccUserID(login string) string {
	sum := sha256.Sum256([]byte("iam-user\x00" + strings.ToLower(login)))
	return "AIDA" + base32.StdEncoding.EncodeToString(sum[:10])
}

func decode(body []byte, v any) *awsError {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &awsError{http.StatusBadRequest, "SerializationException", "The request body is not valid JSON."}
	}
	return nil
}

func required(code, field string) *awsError {
	return &awsError{http.StatusBadRequest, code, "A " + field + " is required but was not specified."}
}

// visibleRepo finds a repository the caller can see, or answers as
// CodeCommit does for a repository that is not there.
func (c *codeCommit) visibleRepo(k ccCaller, name string) (repoView, *awsError) {
	if name == "" {
		return repoView{}, required("RepositoryNameRequiredException", "repository name")
	}
	v, found := c.sim.ccRepo(name, k.tok.Login)
	if !found || !v.Visible {
		return repoView{}, &awsError{http.StatusBadRequest, "RepositoryDoesNotExistException", name + " does not exist"}
	}
	return v, nil
}

// writableRepo also requires push access.
func (c *codeCommit) writableRepo(k ccCaller, name, action string) (repoView, *awsError) {
	v, e := c.visibleRepo(k, name)
	if e != nil {
		return v, e
	}
	if !v.Push {
		return v, &awsError{http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: %s is not authorized to perform: codecommit:%s on resource: %s because no identity-based policy allows the codecommit:%s action",
			k.arn(), action, ccRepoARN(k.region, v), action)}
	}
	return v, nil
}

func ccRepoARN(region string, v repoView) string {
	return "arn:aws:codecommit:" + region + ":" + v.Owner + ":" + v.Name
}

func (c *codeCommit) metadata(k ccCaller, v repoView) map[string]any {
	git := "git-codecommit." + k.region + ".amazonaws.com/v1/repos/" + v.Name
	return map[string]any{
		"accountId":        v.Owner,
		"repositoryId":     fmt.Sprintf("%08x-5c1e-4a7b-9d3f-%012x", v.ID, v.ID*7919),
		"repositoryName":   v.Name,
		"defaultBranch":    v.DefaultBranch,
		"lastModifiedDate": ccCreated,
		"creationDate":     ccCreated,
		"cloneUrlHttp":     "https://" + git,
		"cloneUrlSsh":      "ssh://" + git,
		"Arn":              ccRepoARN(k.region, v),
	}
}

// page cuts n items at the offset nextToken names.
func page(nextToken string, n int) (lo, hi int, next string, e *awsError) {
	if nextToken != "" {
		raw, err := base64.StdEncoding.DecodeString(nextToken)
		off, ok := strings.CutPrefix(string(raw), "offset:")
		lo, err2 := strconv.Atoi(off)
		if err != nil || !ok || err2 != nil || lo < 0 || lo > n {
			return 0, 0, "", &awsError{http.StatusBadRequest, "InvalidContinuationTokenException", "The specified continuation token is not valid."}
		}
		hi = min(lo+ccPageSize, n)
		if hi < n {
			next = base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "offset:%d", hi))
		}
		return lo, hi, next, nil
	}
	hi = min(ccPageSize, n)
	if hi < n {
		next = base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "offset:%d", hi))
	}
	return 0, hi, next, nil
}

func withNext(m map[string]any, next string) map[string]any {
	if next != "" {
		m["nextToken"] = next
	}
	return m
}

func (c *codeCommit) listRepositories(k ccCaller, body []byte, _ string) (any, *awsError) {
	var in struct {
		NextToken string `json:"nextToken"`
		Order     string `json:"order"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	var list []repoView
	for _, v := range c.sim.memberRepos(k.tok.Login) {
		if v.Push {
			list = append(list, v)
		}
	}
	slices.SortStableFunc(list, func(a, b repoView) int { return strings.Compare(a.Name, b.Name) })
	if in.Order == "descending" {
		slices.Reverse(list)
	}
	lo, hi, next, e := page(in.NextToken, len(list))
	if e != nil {
		return nil, e
	}
	out := make([]map[string]string, 0, hi-lo)
	for _, v := range list[lo:hi] {
		out = append(out, map[string]string{"repositoryName": v.Name, "repositoryId": c.metadata(k, v)["repositoryId"].(string)})
	}
	return withNext(map[string]any{"repositories": out}, next), nil
}

func (c *codeCommit) batchGetRepositories(k ccCaller, body []byte, _ string) (any, *awsError) {
	var in struct {
		RepositoryNames []string `json:"repositoryNames"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch {
	case len(in.RepositoryNames) == 0:
		return nil, required("RepositoryNamesRequiredException", "repository name")
	case len(in.RepositoryNames) > ccBatchMax:
		return nil, &awsError{http.StatusBadRequest, "MaximumRepositoryNamesExceededException", fmt.Sprintf("The maximum number of allowed repository names was exceeded. Currently, this number is %d.", ccBatchMax)}
	}
	found, missing := []map[string]any{}, []string{}
	for _, name := range in.RepositoryNames {
		if v, e := c.visibleRepo(k, name); e == nil {
			found = append(found, c.metadata(k, v))
		} else {
			missing = append(missing, name)
		}
	}
	return map[string]any{"repositories": found, "repositoriesNotFound": missing, "errors": []any{}}, nil
}

func (c *codeCommit) getRepository(k ccCaller, body []byte, _ string) (any, *awsError) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	v, e := c.visibleRepo(k, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	return map[string]any{"repositoryMetadata": c.metadata(k, v)}, nil
}

func (c *codeCommit) listBranches(k ccCaller, body []byte, _ string) (any, *awsError) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		NextToken      string `json:"nextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	v, e := c.visibleRepo(k, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	list := c.sim.branchList(v.FullName())
	lo, hi, next, e := page(in.NextToken, len(list))
	if e != nil {
		return nil, e
	}
	names := make([]string, 0, hi-lo)
	for _, b := range list[lo:hi] {
		names = append(names, b.Name)
	}
	return withNext(map[string]any{"branches": names}, next), nil
}

func (c *codeCommit) getBranch(k ccCaller, body []byte, _ string) (any, *awsError) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		BranchName     string `json:"branchName"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	v, e := c.visibleRepo(k, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	if in.BranchName == "" {
		return nil, required("BranchNameRequiredException", "branch name")
	}
	sha, ok := c.sim.branchSHA(v.FullName(), in.BranchName)
	if !ok {
		return nil, &awsError{http.StatusBadRequest, "BranchDoesNotExistException", "Could not retrieve the specified branch: " + in.BranchName}
	}
	return map[string]any{"branch": map[string]string{"branchName": in.BranchName, "commitId": sha}}, nil
}

func (c *codeCommit) createBranch(k ccCaller, body []byte, action string) (any, *awsError) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		BranchName     string `json:"branchName"`
		CommitID       string `json:"commitId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	v, e := c.writableRepo(k, in.RepositoryName, action)
	switch {
	case e != nil:
		return nil, e
	case in.BranchName == "":
		return nil, required("BranchNameRequiredException", "branch name")
	case in.CommitID == "":
		return nil, required("CommitIdRequiredException", "commit ID")
	}
	switch f := c.sim.createBranch(v.FullName(), in.BranchName, in.CommitID); f.kind {
	case failNone:
		return map[string]any{}, nil
	case failRefExists:
		return nil, &awsError{http.StatusBadRequest, "BranchNameExistsException", "Branch " + in.BranchName + " already exists"}
	case failObjectMissing:
		return nil, &awsError{http.StatusBadRequest, "CommitIdDoesNotExistException", "Could not find commit " + in.CommitID}
	case failRefConflict:
		return nil, &awsError{http.StatusBadRequest, "InvalidBranchNameException", "The branch name " + in.BranchName + " conflicts with the existing branch " + f.conflict}
	default:
		return nil, &awsError{http.StatusBadRequest, "InvalidBranchNameException", "The specified reference name is not valid."}
	}
}

func (c *codeCommit) deleteBranch(k ccCaller, body []byte, action string) (any, *awsError) {
	var in struct {
		RepositoryName string `json:"repositoryName"`
		BranchName     string `json:"branchName"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	v, e := c.writableRepo(k, in.RepositoryName, action)
	if e != nil {
		return nil, e
	}
	if in.BranchName == "" {
		return nil, required("BranchNameRequiredException", "branch name")
	}
	sha := c.sim.branchTip(v.FullName(), in.BranchName)
	switch f := c.sim.deleteBranch(v.FullName(), in.BranchName); f.kind {
	case failNone:
		return map[string]any{"deletedBranch": map[string]string{"branchName": in.BranchName, "commitId": sha}}, nil
	case failDefaultBranch:
		return nil, &awsError{http.StatusBadRequest, "DefaultBranchCannotBeDeletedException", "The default branch " + in.BranchName + " cannot be deleted."}
	default:
		return nil, &awsError{http.StatusBadRequest, "BranchDoesNotExistException", "Could not find branch " + in.BranchName}
	}
}

func (c *codeCommit) prJSON(k ccCaller, v repoView, p PR) map[string]any {
	status := "OPEN"
	if !p.Open {
		status = "CLOSED"
	}
	author := "arn:aws:iam::" + SimCallerAccount + ":user/" + p.Author
	return map[string]any{
		"pullRequestId":     strconv.Itoa(p.Number),
		"title":             p.Title,
		"description":       p.Body,
		"lastActivityDate":  ccCreated,
		"creationDate":      ccCreated,
		"pullRequestStatus": status,
		"authorArn":         author,
		"pullRequestTargets": []map[string]any{{
			"repositoryName":       v.Name,
			"sourceReference":      "refs/heads/" + p.Source,
			"destinationReference": "refs/heads/" + p.Target,
			"sourceCommit":         c.sim.branchTip(v.FullName(), p.Source),
			"destinationCommit":    c.sim.branchTip(v.FullName(), p.Target),
			"mergeMetadata":        map[string]any{"isMerged": false},
		}},
		"revisionId":    fmt.Sprintf("%064x", p.Number),
		"approvalRules": []any{},
	}
}

func (c *codeCommit) createPullRequest(k ccCaller, body []byte, action string) (any, *awsError) {
	var in struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Targets     []struct {
			RepositoryName       string `json:"repositoryName"`
			SourceReference      string `json:"sourceReference"`
			DestinationReference string `json:"destinationReference"`
		} `json:"targets"`
		ClientRequestToken string `json:"clientRequestToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch {
	case len(in.Targets) == 0:
		return nil, required("TargetsRequiredException", "target")
	case len(in.Targets) > 1:
		return nil, &awsError{http.StatusBadRequest, "MultipleRepositoriesInPullRequestException", "You cannot include more than one repository in a pull request."}
	case strings.TrimSpace(in.Title) == "":
		return nil, required("TitleRequiredException", "title")
	}
	t := in.Targets[0]
	v, e := c.writableRepo(k, t.RepositoryName, action)
	if e != nil {
		return nil, e
	}
	if t.SourceReference == "" {
		return nil, required("ReferenceNameRequiredException", "source reference")
	}
	source := strings.TrimPrefix(t.SourceReference, "refs/heads/")
	target := strings.TrimPrefix(t.DestinationReference, "refs/heads/")
	if target == "" {
		target = v.DefaultBranch
	}
	p, f := c.sim.createPR(v.FullName(), PR{Title: in.Title, Body: in.Description, Source: source, Target: target, Author: k.tok.Login})
	switch f.kind {
	case failNone:
		p = c.sim.ccRenumber(v.FullName(), v.ID, p.Number)
	case failPRExists:
		p = f.pr
	case failHeadMissing:
		return nil, &awsError{http.StatusBadRequest, "ReferenceDoesNotExistException", "The specified reference does not exist: " + t.SourceReference}
	case failBaseMissing:
		return nil, &awsError{http.StatusBadRequest, "ReferenceDoesNotExistException", "The specified reference does not exist: " + t.DestinationReference}
	case failSameBranch:
		return nil, &awsError{http.StatusBadRequest, "SourceAndDestinationAreSameException", "The source branch and destination branch are the same. You must specify different branches for the source and destination."}
	default:
		return nil, &awsError{http.StatusBadRequest, "InvalidTitleException", "The pull request cannot be created as given."}
	}
	return map[string]any{"pullRequest": c.prJSON(k, v, p)}, nil
}

// ccRenumber gives a pull request just opened, which the core numbers per
// repository, its CodeCommit id, unique across repositories: the
// repository's id times ccPRStride plus that number. Tests then find it
// under the number the adapter reports.
func (s *Sim) ccRenumber(fullName string, repoID int64, n int) PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.mustRepo(fullName).prs {
		if p.Number == n {
			p.Number = int(repoID*ccPRStride) + n
			return *p
		}
	}
	return PR{Number: n}
}

func (c *codeCommit) listPullRequests(k ccCaller, body []byte, _ string) (any, *awsError) {
	var in struct {
		RepositoryName    string `json:"repositoryName"`
		PullRequestStatus string `json:"pullRequestStatus"`
		AuthorArn         string `json:"authorArn"`
		NextToken         string `json:"nextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	v, e := c.visibleRepo(k, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	state := "all"
	switch in.PullRequestStatus {
	case "OPEN":
		state = "open"
	case "CLOSED":
		state = "closed"
	case "":
	default:
		return nil, &awsError{http.StatusBadRequest, "InvalidPullRequestStatusException", "The pull request status is not valid. The only valid values are OPEN and CLOSED."}
	}
	var ids []string
	prs := c.sim.pulls(v.FullName(), state, "", "")
	for i := len(prs) - 1; i >= 0; i-- { // newest first
		p := prs[i]
		if in.AuthorArn != "" && in.AuthorArn != "arn:aws:iam::"+SimCallerAccount+":user/"+p.Author {
			continue
		}
		ids = append(ids, strconv.Itoa(p.Number))
	}
	lo, hi, next, e := page(in.NextToken, len(ids))
	if e != nil {
		return nil, e
	}
	return withNext(map[string]any{"pullRequestIds": append([]string{}, ids[lo:hi]...)}, next), nil
}

func (c *codeCommit) getPullRequest(k ccCaller, body []byte, _ string) (any, *awsError) {
	var in struct {
		PullRequestID string `json:"pullRequestId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.PullRequestID == "" {
		return nil, required("PullRequestIdRequiredException", "pull request ID")
	}
	id, err := strconv.ParseInt(in.PullRequestID, 10, 64)
	if err != nil || id <= 0 {
		return nil, &awsError{http.StatusBadRequest, "InvalidPullRequestIdException", "The pull request ID is not valid."}
	}
	notFound := &awsError{http.StatusBadRequest, "PullRequestDoesNotExistException", "The pull request ID could not be found."}
	v, found := c.sim.repoByID(id/ccPRStride, k.tok.Login)
	if !found || !v.Visible {
		return nil, notFound
	}
	p, found := c.sim.pull(v.FullName(), int(id))
	if !found {
		return nil, notFound
	}
	return map[string]any{"pullRequest": c.prJSON(k, v, p)}, nil
}
