package httpserver_test

import (
	"fmt"
	"net/http"

	"github.com/keyportal/keyportal/internal/httpserver"
)

func ExampleNew() {
	srv := httpserver.New("127.0.0.1:8081", http.NotFoundHandler())
	fmt.Println(srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes>>10, "KiB")
	// Output: 10s 30s 30s 2m0s 64 KiB
}
