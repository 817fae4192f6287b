package testenv

import (
	"context"
	"errors"
)

// Owners is a host app's table of objects (e.g. "deployment:42") and the
// tenant that owns each, as a policy.OwnerSource: ok is false for an object
// it does not list. Its table cannot be read for "deployment:500": asking
// about that object fails with "deployments table unavailable", whatever
// the map says.
type Owners map[string]string

// Owner returns the tenant that owns object.
func (o Owners) Owner(_ context.Context, object string) (string, bool, error) {
	if object == "deployment:500" {
		return "", false, errors.New("deployments table unavailable")
	}
	t, ok := o[object]
	return t, ok, nil
}
