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
// replace a file by renaming a new one over it. A file that is a symlink is
// also followed: the directory of the file it leads to is watched too, and
// the link is resolved again on every event, because a Kubernetes ConfigMap
// is updated by swapping a link on the way (policy.csv → ..data/policy.csv,
// ..data renamed over) with no event naming the file itself.
type watcher struct {
	fs *fsnotify.Watcher
	// files maps each watched file's absolute path to the file it resolves
	// to, itself when it is no symlink ("" while it does not resolve).
	files map[string]string
	done  chan struct{}
	ended chan struct{}
}

func newWatcher(e *Engine, paths ...string) (*watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{fs: fs, files: map[string]string{}, done: make(chan struct{}), ended: make(chan struct{})}
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
		w.files[abs] = resolve(abs)
		dirs[filepath.Dir(abs)] = true
		if r := w.files[abs]; r != "" {
			dirs[filepath.Dir(r)] = true
		}
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
			if ev.Op == fsnotify.Chmod || !w.changed(ev.Name) {
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

// changed reports whether the event on name may have changed a watched
// file: it names the file or the file a symlink leads to, or a file now
// resolves elsewhere (then the new target's directory is watched too).
func (w *watcher) changed(name string) bool {
	abs, err := filepath.Abs(name)
	if err != nil {
		return false
	}
	changed := false
	for file, target := range w.files {
		if abs == file || abs == target {
			changed = true
		}
		if now := resolve(file); now != target {
			w.files[file] = now
			if now != "" {
				_ = w.fs.Add(filepath.Dir(now)) // best effort: the link's own directory is watched
			}
			changed = true
		}
	}
	return changed
}

// resolve returns the file that path leads to through any symlinks, or ""
// when it leads nowhere (yet).
func resolve(path string) string {
	r, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	return r
}

func (w *watcher) close() error {
	close(w.done)
	err := w.fs.Close()
	<-w.ended
	return err
}
