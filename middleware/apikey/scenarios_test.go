package apikey_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
)

// TestVerifierScenarios runs the scenarios shared with RequireAPIKey and the
// backend API's authz check on the Verifier itself, over a real store.
func TestVerifierScenarios(t *testing.T) {
	for _, tc := range apikeytest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			e := apikeytest.NewEnv(t)
			v, err := apikey.New(apikey.Config{Keys: e.Store, Tenants: e.Tenants, Now: e.Clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			ctx := context.Background()
			secret := tc.Secret(t, e)
			if tc.Then != nil {
				if _, err := v.Verify(ctx, secret, nil); err != nil {
					t.Fatalf("before the change: %v", err)
				}
				tc.Then(t, e, secret)
			}
			id, err := v.Verify(ctx, secret, tc.Required)
			if got := apikey.ReasonOf(err); got != tc.Want {
				t.Fatalf("Verify: %v (reason %q), want reason %q", err, got, tc.Want)
			}
			switch tc.Want {
			case "":
				if err != nil || id == nil || id.AppSlug != apikeytest.AppSlug || id.Tenant != apikeytest.Tenant || id.DeploymentID != "42" {
					t.Fatalf("identity %+v, %v", id, err)
				}
			case apikey.ReasonPermissionDenied:
				if !errors.Is(err, apikey.ErrForbidden) || id == nil {
					t.Fatalf("%v with identity %+v; want ErrForbidden and the identity", err, id)
				}
			default:
				if !errors.Is(err, apikey.ErrInvalid) || id != nil {
					t.Fatalf("%v with identity %+v; want ErrInvalid and no identity", err, id)
				}
			}
		})
	}
}
