package httpenc_test

import (
	"fmt"
	"strings"

	"github.com/keyportal/keyportal/internal/httpenc"
)

func ExampleBody_Pick() {
	script := httpenc.Compress([]byte(strings.Repeat("console.log('keyportal');\n", 100)))
	_, enc := script.Pick("gzip, deflate, br")
	fmt.Println(enc)
	_, enc = script.Pick("gzip")
	fmt.Println(enc)
	// Output:
	// br
	// gzip
}
