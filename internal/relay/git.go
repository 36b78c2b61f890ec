package relay

// GitRemote is how to read one repository with git over HTTPS as the
// integration account: the repository's git URL, and the Authorization
// header value (such as "Basic …") that requests to that URL's origin, and
// no other, carry. Authorization is a Credential so that it refuses to be
// printed, logged or serialised like any other secret.
type GitRemote struct {
	URL           string
	Authorization Credential
}
