/**
 * GET /v1/docs: a self-contained page (no CDN, no external assets) that reads /v1/openapi.json
 * and lists every operation with its role, parameters and request body schema.
 */
export const DOCS_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Device lifecycle API v1</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #1d1d1f; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; text-transform: capitalize; }
  details { border: 1px solid #ddd; border-radius: 6px; margin: .4rem 0; padding: .3rem .6rem; }
  summary { cursor: pointer; }
  .m { display: inline-block; min-width: 4.2rem; font-weight: 600; font-family: ui-monospace, monospace; }
  .get { color: #0a6; } .post { color: #06c; } .delete { color: #c22; }
  .p { font-family: ui-monospace, monospace; }
  .role { float: right; font-size: .8rem; padding: 0 .4rem; border-radius: 4px; background: #eee; }
  .role.admin { background: #fdd; } .role.operator { background: #ffd; } .role.public { background: #dfd; }
  pre { background: #f6f6f6; padding: .5rem; overflow: auto; font-size: 12px; }
  table { border-collapse: collapse; } td, th { border-bottom: 1px solid #eee; padding: .2rem .6rem; text-align: left; vertical-align: top; }
</style>
</head>
<body>
<h1>Device lifecycle API v1</h1>
<p id="intro">Loading <a href="/v1/openapi.json">/v1/openapi.json</a>&hellip;</p>
<div id="ops"></div>
<script>
(function () {
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function json(value) { return el('pre', {}, [JSON.stringify(value, null, 2)]); }
  fetch('/v1/openapi.json').then(function (r) { return r.json(); }).then(function (doc) {
    var intro = document.getElementById('intro');
    intro.textContent = doc.info.description + ' ';
    intro.appendChild(el('a', { href: '/v1/openapi.json' }, ['openapi.json']));
    var byTag = {};
    Object.keys(doc.paths).forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method];
        var tag = (op.tags && op.tags[0]) || 'other';
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    var root = document.getElementById('ops');
    Object.keys(byTag).forEach(function (tag) {
      root.appendChild(el('h2', {}, [tag]));
      byTag[tag].forEach(function (entry) {
        var op = entry.op;
        var role = op['x-required-role'] || 'reader';
        var body = [];
        if (op.parameters && op.parameters.length) {
          var rows = op.parameters.map(function (p) {
            return el('tr', {}, [el('td', { class: 'p' }, [p.name]), el('td', {}, [p.in + (p.required ? ', required' : '')]), el('td', {}, [JSON.stringify(p.schema)])]);
          });
          body.push(el('table', {}, [el('tr', {}, [el('th', {}, ['parameter']), el('th', {}, ['in']), el('th', {}, ['schema'])])].concat(rows)));
        }
        if (op.requestBody) { body.push(el('div', {}, ['Request body (JSON):'])); body.push(json(op.requestBody.content['application/json'].schema)); }
        body.push(el('div', {}, ['Responses: ' + Object.keys(op.responses).map(function (s) { return s + ' ' + op.responses[s].description; }).join('; ')]));
        root.appendChild(el('details', {}, [
          el('summary', {}, [el('span', { class: 'm ' + entry.method }, [entry.method.toUpperCase()]), el('span', { class: 'p' }, [entry.path]), ' \\u2014 ' + op.summary, el('span', { class: 'role ' + role }, [role])]),
        ].concat(body)));
      });
    });
  }).catch(function (err) { document.getElementById('intro').textContent = 'Could not load /v1/openapi.json: ' + err; });
})();
</script>
</body>
</html>
`;
