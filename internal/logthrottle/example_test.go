package logthrottle_test

import (
	"fmt"
	"time"

	"github.com/keyportal/keyportal/internal/logthrottle"
)

func ExampleThrottle_Allow() {
	th := logthrottle.New(0, 2, 0, 0) // 2 at once per IP, then one per 10 s
	now := time.Unix(0, 0)
	for i := range 4 {
		fmt.Println(i, th.Allow("203.0.113.9", now))
	}
	// Output:
	// 0 true
	// 1 true
	// 2 false
	// 3 false
}
