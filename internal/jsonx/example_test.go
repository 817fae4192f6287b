package jsonx_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/keyportal/keyportal/internal/jsonx"
)

func ExampleReadObject() {
	var req struct {
		Name string `json:"name"`
	}
	r := httptest.NewRequest(http.MethodPost, "/keys", strings.NewReader(`{"name":"ci","admin":true}`))
	r.Header.Set("Content-Type", "application/json")
	if p := jsonx.ReadObject(httptest.NewRecorder(), r, &req, jsonx.Options{}); p != nil {
		fmt.Println(p.Status, p.Code, p.Message)
	}
	// Output:
	// 400 bad_json invalid JSON body: unknown field "admin"
}
