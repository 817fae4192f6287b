package main

import "github.com/gin-gonic/gin"

// mountShell serves the settings page with the WebAssembly shell.
func mountShell(e *gin.Engine, o options) error {
	return nil
}
