package portal

import (
	"context"
	"sync"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// appCacheMaxAge bounds how long the app cache serves an app without
// reading the store again: the change feed drops a changed app long before,
// and this bound holds when the feed missed a change.
const appCacheMaxAge = 30 * time.Second

// appCache keeps the apps the issuer and the page look up, so that issuing a
// ticket costs a seal and no query. It drops an app as soon as the store says
// it changed (Store.Subscribe: at once in this process, through the
// backend's change feed from other processes), and reads it again once it is
// appCacheMaxAge old whatever the feed said. The exchange and the JSON API
// do not use it: they read the app fresh on every call, so a disabled app
// stops a session on its very next request.
type appCache struct {
	store keystore.Store
	now   func() time.Time

	mu   sync.RWMutex
	apps map[string]cachedApp
	gen  uint64 // bumped by every drop, so a lookup racing a change is not kept
}

type cachedApp struct {
	app    keystore.App
	readAt time.Time
}

func newAppCache(store keystore.Store, now func() time.Time) *appCache {
	c := &appCache{store: store, now: now, apps: map[string]cachedApp{}}
	store.Subscribe(c.drop)
	return c
}

// get returns the app, from the cache or the store. Errors are not cached.
func (c *appCache) get(ctx context.Context, slug string) (keystore.App, error) {
	now := c.now()
	c.mu.RLock()
	ca, ok := c.apps[slug]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Sub(ca.readAt) < appCacheMaxAge {
		return ca.app, nil
	}
	app, err := c.store.GetApp(ctx, slug)
	if err != nil {
		return keystore.App{}, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.apps[slug] = cachedApp{app, now}
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
