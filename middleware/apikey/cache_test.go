package apikey

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// The cache of verified keys: what a change drops, how many keys it holds,
// and the last_used_at times it hands to the store.

var (
	secretB = "k_" + strings.Repeat("B", BodyLen-1) + "A"
	secretC = "k_" + strings.Repeat("C", BodyLen-1) + "A"
)

// noFeed is a key store that reports no changes, so the Verifier caches
// nothing: its interface hides fakeKeys' Subscribe.
type noFeed struct{ keystore.Keys }

// lookupsFor verifies each secret and returns how many store lookups that
// took.
func lookupsFor(t *testing.T, v *Verifier, f *fakeKeys, secrets ...string) int64 {
	t.Helper()
	before := f.lookups.Load()
	for _, s := range secrets {
		if _, err := v.Verify(context.Background(), s, nil); err != nil {
			t.Fatalf("Verify(%s…): %v", s[:4], err)
		}
	}
	return f.lookups.Load() - before
}

func TestChangeDropsOnlyWhatChanged(t *testing.T) {
	f := newFakeKeys()
	f.add(secretA)
	f.add(secretB)
	f.addTo(secretC, keystore.App{Slug: "aa_2", Tenant: "acme", IsActive: true})
	v, err := New(Config{Keys: f, TouchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	all := []string{secretA, secretB, secretC}
	if n := lookupsFor(t, v, f, all...); n != 3 {
		t.Fatalf("first round: %d lookups, want 3", n)
	}
	if n := lookupsFor(t, v, f, all...); n != 0 {
		t.Fatalf("second round: %d lookups, want 0 (all cached)", n)
	}
	tests := []struct {
		name   string
		change keystore.Change
		want   int64 // lookups to verify all three again
	}{
		{"one key changed: that key", keystore.Change{AppSlug: "aa_1", KeyHash: keystore.HashSecret(secretA)}, 1},
		{"an app changed: its keys", keystore.Change{AppSlug: "aa_2"}, 1},
		{"a change that names nothing: everything", keystore.Change{}, 3},
		{"a key hash that is not hex: everything", keystore.Change{AppSlug: "aa_1", KeyHash: "not-a-hash"}, 3},
	}
	for _, tc := range tests {
		f.Notify(tc.change)
		if n := lookupsFor(t, v, f, all...); n != tc.want {
			t.Errorf("%s: %d lookups, want %d", tc.name, n, tc.want)
		}
	}
}

func TestCacheSize(t *testing.T) {
	f := newFakeKeys()
	f.add(secretA)
	f.add(secretB)
	for _, tc := range []struct {
		size int
		want int64 // lookups for A, B, A
	}{
		{0, 2}, // the default holds both
		{1, 3}, // B pushes A out
		{2, 2},
	} {
		v, err := New(Config{Keys: f, CacheSize: tc.size, TouchInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if n := lookupsFor(t, v, f, secretA, secretB, secretA); n != tc.want {
			t.Errorf("CacheSize %d: %d lookups for A, B, A; want %d", tc.size, n, tc.want)
		}
		v.Close()
	}
}

// TestLastUsedNeverGoesBack: two uses of one key pending in one batch (two
// entries: nothing is cached here) write the later time, whatever the
// order they were recorded in.
func TestLastUsedNeverGoesBack(t *testing.T) {
	f := newFakeKeys()
	k := f.add(secretA)
	late := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := late
	v, err := New(Config{Keys: noFeed{f}, Now: func() time.Time { return now }, TouchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	lookupsFor(t, v, f, secretA)
	now = late.Add(-time.Minute) // a clock step back
	if n := lookupsFor(t, v, f, secretA); n != 1 {
		t.Fatalf("%d lookups, want 1: without a change feed nothing is cached", n)
	}
	if err := v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.touchedAt(k.ID); !got.Equal(late) {
		t.Fatalf("last used %v, want the later use %v", got, late)
	}
}

func TestCloseUnsubscribes(t *testing.T) {
	f := newFakeKeys()
	v, err := New(Config{Keys: f})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.Len(); n != 0 {
		t.Fatalf("%d subscriptions after Close, want 0", n)
	}
	// Without a change feed there is nothing to cancel.
	v, err = New(Config{Keys: noFeed{f}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
}
