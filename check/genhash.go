package check

import (
	"context"
	"errors"
)

// ErrNoData is genhash's "no data received from remote webserver".
var ErrNoData = errors.New("no data received from remote webserver")

// Genhash returns the digest keepalived's genhash prints for h's first
// URL: the MD5 of the body, as 32 lowercase hex digits.
func Genhash(ctx context.Context, h HTTP) (*Response, error) {
	resp, err := h.Fetch(ctx, h.URLs[0])
	if err != nil {
		if resp != nil && !resp.HasBody {
			return resp, ErrNoData
		}
		return resp, err
	}
	return resp, nil
}
