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
// with the WebAssembly shell in Acme's own layout (pages.settingsLayout);
// the page carries its first ticket, issued through route while it renders.
// Without -shell-wasm the shell is built from
// source on first start (about a minute, progress on the terminal) and cached
// in the data directory; cancelling ctx stops that build. The caller closes
// the returned Shell.
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
	})
	if err != nil {
		return nil, err
	}
	s.Mount(e, "/settings/api-keys/:deploymentId")
	return s, nil
}
