// Rebuild app/vendor/plotly-zcells.min.js: plotly.js with only the trace types zcells draws.
// Usage (see ../README.md): node build_plotly.js <unpacked plotly.js npm package> <output file>
const fs = require('fs');
const path = require('path');

const pkg = path.resolve(process.argv[2]);
const out = path.resolve(process.argv[3]);
const esbuild = require(path.join(pkg, 'node_modules/esbuild'));
const { environmentPlugin } = require(path.join(pkg, 'node_modules/esbuild-plugin-environment'));
const { glsl } = require(path.join(pkg, 'node_modules/esbuild-plugin-glsl'));
const InlineCSSPlugin = require(path.join(pkg, 'node_modules/esbuild-plugin-inline-css'));
const version = require(path.join(pkg, 'package.json')).version;
// keep in step with app/plotlyjs.py TRACES (scatter is part of plotly.js core)
const traces = ['scatter', 'scattergl', 'heatmap', 'bar', 'histogram'];

const entry = path.join(pkg, 'lib', 'index-zcells.js');
fs.writeFileSync(entry, "'use strict';\nvar Plotly = require('./core');\nPlotly.register([\n" +
    traces.filter((t) => t !== 'scatter').map((t) => `    require('./${t}'),\n`).join('') +
    ']);\nmodule.exports = Plotly;\n');

// the options of plotly.js's own esbuild-config.js, minified, plus a provenance banner
esbuild.build({
    entryPoints: [entry], outfile: out, absWorkingDir: pkg,
    format: 'iife', globalName: 'Plotly', bundle: true, minify: true, sourcemap: false,
    plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016', logLevel: 'info',
    banner: { js: `/*! plotly.js v${version} partial bundle for zcells; traces: ${traces.join(',')}. ` +
              'MIT licence (c) Plotly Technologies Inc., see LICENSE-plotly.js.txt */' },
}).catch(() => process.exit(1));
