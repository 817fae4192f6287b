package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/shell"
)

// mountShell serves the settings page, /settings/api-keys/<deploymentId>,
// with the WebAssembly shell in Acme's own layout (pages.settingsLayout),
// its assets under /_keyportal/; the page carries its first ticket, issued
// through route while it renders. Without -shell-wasm the shell is built
// from source in the background on first start (progress on the terminal)
// and cached in the data directory; the page works through the eager script
// meanwhile. Cancelling ctx stops that build. The caller closes the
// returned Shell.
func mountShell(ctx context.Context, e *gin.Engine, o options, route *middleware.TicketRoute, p *pages) (*shell.Shell, error) {
	s, err := shell.New(ctx, shell.Config{
		Title:       "Acme — API keys",
		Name:        "Acme",
		Description: "Manage the API keys of your Acme deployment",
		WasmPath:    o.ShellWasm,
		CacheDir:    filepath.Join(o.DataDir, "shell"),
		Progress:    os.Stderr,
		Logger:      o.Logger,
		Tickets:     route,
		Layout:      p.settingsLayout,
		Pages:       []string{"/settings/api-keys/:deploymentId"},
	})
	if err != nil {
		return nil, err
	}
	if err := s.Mount(e); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
