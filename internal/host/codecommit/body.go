package codecommit

import (
	"bytes"
	"io"
	"net/http"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// maxRequestBody bounds what ownBodies reads of a request into memory:
// CodeCommit requests are small JSON documents (a pull request's
// description is the largest part, limited by AWS to 10,240 characters).
const maxRequestBody = 1 << 20

// ownBodies gives the transport a request body of its own. The AWS SDK
// closes a request's body as soon as the answer's headers arrive, while
// the transport may still be reading it (after the declared length it
// reads once more to check nothing is left); that read then fails, and
// the transport closes the connection the answer is still being read
// from, so a complete answer fails halfway as "use of closed network
// connection".
type ownBodies struct{ hc *http.Client }

func (o ownBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > maxRequestBody {
			return nil, relay.Errorf(relay.EInvalid, "The request to AWS CodeCommit would be larger than %d KiB; shorten the pull request's description.", maxRequestBody>>10)
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.ContentLength = int64(len(b))
	}
	return o.hc.Do(req)
}
