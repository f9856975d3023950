package client

import (
	"context"
	"net/url"

	"github.com/eucora/eucora/hub/api"
)

// CreatePlane registers an execution plane (platform admin only). The
// answer never carries the credentials.
func (c *Client) CreatePlane(ctx context.Context, r api.PlaneRequest) (api.Plane, error) {
	var p api.Plane
	return p, c.do(ctx, "POST", "/v1/planes", r, &p)
}

// Planes lists the registered planes in the caller's scope.
func (c *Client) Planes(ctx context.Context) ([]api.Plane, error) {
	var out struct {
		Planes []api.Plane `json:"planes"`
	}
	return out.Planes, c.do(ctx, "GET", "/v1/planes", nil, &out)
}

// CheckPlane authenticates to the plane and reads one page through its
// connector. A failed check is a PlaneCheck with OK false, not an error.
func (c *Client) CheckPlane(ctx context.Context, name string) (api.PlaneCheck, error) {
	var out api.PlaneCheck
	return out, c.do(ctx, "POST", "/v1/planes/"+url.PathEscape(name)+":check", nil, &out)
}
