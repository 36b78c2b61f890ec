package host

import "net/http"

// TransportOf is the *http.Transport under a client NewHTTPClient built.
func TransportOf(c *http.Client) *http.Transport {
	if ct, ok := c.Transport.(*capTransport); ok {
		if o, ok := ct.base.(*observed); ok {
			t, _ := o.base.(*http.Transport)
			return t
		}
	}
	return nil
}
