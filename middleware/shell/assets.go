package shell

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
)

// iconSVG is the shell's icon: a key on a rounded square, served locally so
// the page makes no request to another host (go-app's default icon is
// remote).
const iconSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">` +
	`<rect width="64" height="64" rx="14" fill="#2f5bea"/>` +
	`<circle cx="24" cy="32" r="10" fill="none" stroke="#fff" stroke-width="5"/>` +
	`<path d="M33 32h20v8M45 32v6" fill="none" stroke="#fff" stroke-width="5" stroke-linecap="round"/></svg>`

// iconPNG draws the same key at 192×192 (for the manifest and browsers
// that want a raster icon).
func iconPNG() []byte {
	const size = 192
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := color.NRGBA{0x2f, 0x5b, 0xea, 0xff}
	fg := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if inRoundedRect(x, y, size, 42) {
				img.Set(x, y, bg)
			}
			// Ring: centre (72,96), radius 30, width 15.
			dx, dy := x-72, y-96
			if d := dx*dx + dy*dy; d <= 37*37 && d >= 22*22 {
				img.Set(x, y, fg)
			}
			// Shaft and teeth.
			if (y >= 89 && y <= 103 && x >= 99 && x <= 159) ||
				(x >= 145 && x <= 159 && y >= 96 && y <= 120) ||
				(x >= 128 && x <= 140 && y >= 96 && y <= 114) {
				img.Set(x, y, fg)
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // cannot fail on an in-memory image
	return buf.Bytes()
}

func inRoundedRect(x, y, size, r int) bool {
	cx, cy := x, y
	switch {
	case x < r:
		cx = r
	case x >= size-r:
		cx = size - r - 1
	}
	switch {
	case y < r:
		cy = r
	case y >= size-r:
		cy = size - r - 1
	}
	dx, dy := x-cx, y-cy
	return dx*dx+dy*dy <= r*r
}

// shellCSS styles the shell's states. go-app's loader is hidden (the
// prerendered shell already says it is loading) and shown only if loading
// the wasm failed, with the error.
const shellCSS = `#app-wasm-loader:not(:has(.goapp-spin)){display:block;margin:12px 0;color:#5c3b00}
#app-wasm-loader img{width:24px;height:24px}
:root{color-scheme:light dark}
.keyportal-shell{box-sizing:border-box;width:100%;min-height:120px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.keyportal-status{margin:0;padding:24px;color:#555}
.keyportal-error,.keyportal-notice:not(:empty){margin:0 0 12px;padding:16px 20px;border-radius:8px;background:#fff4e5;color:#5c3b00;border:1px solid #f5c26b}
.keyportal-error p,.keyportal-notice p{margin:0 0 8px}
.keyportal-error a{color:#1d4ed8;font-weight:600}
.keyportal-notice button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid #9a6a00;background:#fff;cursor:pointer}
.keyportal-start{padding:24px}
.keyportal-start p{margin:0 0 12px;color:#555}
.keyportal-start button{font:inherit;font-weight:600;padding:8px 18px;border-radius:6px;border:1px solid #1d4ed8;background:#2f5bea;color:#fff;cursor:pointer}
.keyportal-shell iframe{display:block}
.keyportal-frame-slot,.keyportal-shell:has(+.keyportal-frame-slot){min-height:0}
@media (prefers-color-scheme:dark){
.keyportal-status,.keyportal-start p{color:#bbb}
.keyportal-error,.keyportal-notice:not(:empty){background:#3a2a10;color:#ffe2b0;border-color:#7a5a20}
.keyportal-error a{color:#93b4ff}
.keyportal-notice button{background:#222;color:#eee}
}
`
