package policy

import (
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchSettle is how long the files must stay quiet before a reload, so that
// an editor's write-in-several-steps is read once, whole.
const watchSettle = 50 * time.Millisecond

// watcher reloads an Engine when its files change. It watches the files'
// directories rather than the files, because editors and deploy tools often
// replace a file by renaming a new one over it.
type watcher struct {
	fs    *fsnotify.Watcher
	files map[string]bool
	done  chan struct{}
	ended chan struct{}
}

func newWatcher(e *Engine, paths ...string) (*watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{fs: fs, files: map[string]bool{}, done: make(chan struct{}), ended: make(chan struct{})}
	dirs := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			fs.Close()
			return nil, err
		}
		w.files[abs] = true
		dirs[filepath.Dir(abs)] = true
	}
	for d := range dirs {
		if err := fs.Add(d); err != nil {
			fs.Close()
			return nil, err
		}
	}
	go w.run(e)
	return w, nil
}

func (w *watcher) run(e *Engine) {
	defer close(w.ended)
	var settle <-chan time.Time
	var timer *time.Timer
	for {
		select {
		case <-w.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			abs, err := filepath.Abs(ev.Name)
			if err != nil || !w.files[abs] || ev.Op == fsnotify.Chmod {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(watchSettle)
			} else {
				timer.Reset(watchSettle)
			}
			settle = timer.C
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			e.log.Error().Err(err).Str("event", "policy.watch").Msg("policy file watch error")
		case <-settle:
			settle = nil
			_ = e.Reload() // Reload logs and records its own errors
		}
	}
}

func (w *watcher) close() error {
	close(w.done)
	err := w.fs.Close()
	<-w.ended
	return err
}
