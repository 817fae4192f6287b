package main

import "github.com/spf13/cobra"

func (c *cli) serveCommand() *cobra.Command { return &cobra.Command{Use: "serve"} }
