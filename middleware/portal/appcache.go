package portal

import (
	"context"
	"sync"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// appCache keeps the apps the issuer and the page look up, so that issuing a
// ticket costs a seal and no query. It drops an app as soon as the store says
// it changed (Store.Subscribe: at once in this process, within the backend's
// change feed from other instances). The exchange and the JSON API do not use
// it: they read the app fresh on every call, so a disabled app stops a session
// on its very next request.
type appCache struct {
	store keystore.Store

	mu   sync.RWMutex
	apps map[string]keystore.App
	gen  uint64 // bumped by every drop, so a lookup racing a change is not kept
}

func newAppCache(store keystore.Store) *appCache {
	c := &appCache{store: store, apps: map[string]keystore.App{}}
	store.Subscribe(c.drop)
	return c
}

// get returns the app, from the cache or the store. Errors are not cached.
func (c *appCache) get(ctx context.Context, slug string) (keystore.App, error) {
	c.mu.RLock()
	app, ok := c.apps[slug]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		return app, nil
	}
	app, err := c.store.GetApp(ctx, slug)
	if err != nil {
		return keystore.App{}, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.apps[slug] = app
	}
	c.mu.Unlock()
	return app, nil
}

// drop forgets a changed app (key changes leave apps alone); an empty
// AppSlug means anything may have changed.
func (c *appCache) drop(ch keystore.Change) {
	if ch.KeyHash != "" && ch.AppSlug != "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if ch.AppSlug == "" {
		clear(c.apps)
		return
	}
	delete(c.apps, ch.AppSlug)
}
