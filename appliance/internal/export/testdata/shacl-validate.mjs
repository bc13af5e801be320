// SHACL validation of the evidence bundle's CASE/UCO provenance record.
//
//	node shacl-validate.mjs RECORD.jsonld ONTOLOGY.ttl...
//
// The shapes graph is the ontology files (UCO and CASE carry their SHACL
// shapes inline with the OWL classes). The data graph is the record, turned
// into RDF by the jsonld package, together with the ontology files, as
// case_validate does: no OWL or RDFS inference is run, so sh:class and
// sh:targetClass see the subclass hierarchy only through the ontology's
// rdfs:subClassOf triples in the data graph. Every validation result is
// printed (severity, focus node, path, value, message); the exit status is 1
// when there is any result, 2 when the files cannot be read or parsed. The
// three SPARQL-based constraints of UCO's core ontology, which
// rdf-validate-shacl cannot run, are checked by a translation of their
// queries below; any other SPARQL-based constraint is an error (status 2).
//
// The npm packages (jsonld, n3, @zazuko/env, rdf-validate-shacl) are loaded
// from $FIREBREAK_NODE_MODULES, by default ~/.cache/firebreak/node/node_modules
// where .ci/run installs them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [record, ...ontology] = process.argv.slice(2);
if (!record || ontology.length === 0) {
  console.error('usage: node shacl-validate.mjs RECORD.jsonld ONTOLOGY.ttl...');
  process.exit(2);
}

const modules = process.env.FIREBREAK_NODE_MODULES ||
  path.join(os.homedir(), '.cache', 'firebreak', 'node', 'node_modules');
const resolve = createRequire(path.join(modules, 'shacl-validate.cjs')).resolve;
const load = async (name) => {
  const m = await import(pathToFileURL(resolve(name)).href);
  return m.default ?? m;
};

const SH = 'http://www.w3.org/ns/shacl#';
const CORE = 'https://ontology.unifiedcyberontology.org/uco/core/';
const RDF_TYPE = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#type';
const SUBCLASS = 'http://www.w3.org/2000/01/rdf-schema#subClassOf';

// ucoThings is `$this a/rdfs:subClassOf* core:UcoThing` of the SPARQL
// constraints: the instances of core:UcoThing or of a subclass of it.
function ucoThings(rdf, data) {
  const classes = new Set([CORE + 'UcoThing']);
  for (let grew = true; grew;) {
    grew = false;
    for (const q of data.match(null, rdf.namedNode(SUBCLASS))) {
      if (classes.has(q.object.value) && !classes.has(q.subject.value)) {
        classes.add(q.subject.value);
        grew = true;
      }
    }
  }
  const things = new Map();
  for (const q of data.match(null, rdf.namedNode(RDF_TYPE))) {
    if (classes.has(q.object.value)) {
      things.set(q.subject.termType + ' ' + q.subject.value, q.subject);
    }
  }
  return [...things.values()];
}

// core:UcoThing: UcoThings are required to not be blank nodes.
function notBlank(rdf, data) {
  return ucoThings(rdf, data).filter((t) => t.termType === 'BlankNode').map((t) => ({ focusNode: t }));
}

// core:UcoThing-identifier-regex-shape: UcoThings are suggested to end with
// a UUID (the query's regular expression, case-insensitive).
function endsWithUUID(rdf, data) {
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-5][0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  return ucoThings(rdf, data).filter((t) => !uuid.test(t.value)).map((t) => ({ focusNode: t }));
}

// core:hasFacet-shape: hasFacet must not be used to link two objects to one
// Facet (unless they are owl:sameAs each other).
function facetOfOneObject(rdf, data) {
  const owners = new Map();
  for (const q of data.match(null, rdf.namedNode(CORE + 'hasFacet'))) {
    const k = q.object.termType + ' ' + q.object.value;
    if (!owners.has(k)) owners.set(k, { facet: q.object, of: [] });
    owners.get(k).of.push(q.subject);
  }
  const sameAs = rdf.namedNode('http://www.w3.org/2002/07/owl#sameAs');
  const same = (a, b) => data.match(a, sameAs, b).size > 0 || data.match(b, sameAs, a).size > 0;
  const out = [];
  for (const { facet, of } of owners.values()) {
    for (const a of of) {
      if (of.some((b) => !b.equals(a) && !same(a, b))) {
        out.push({ focusNode: facet, value: a });
      }
    }
  }
  return out;
}

async function main() {
  const rdf = await load('@zazuko/env');
  const SHACLValidator = await load('rdf-validate-shacl');
  const N3 = await load('n3');
  const jsonld = await load('jsonld');

  const parse = (text, format, name) => {
    try {
      return new N3.Parser({ format, factory: rdf }).parse(text);
    } catch (e) {
      throw new Error(`${name}: ${e.message}`);
    }
  };

  const shapes = rdf.dataset();
  const data = rdf.dataset();
  for (const file of ontology) {
    for (const q of parse(fs.readFileSync(file, 'utf8'), 'text/turtle', file)) {
      shapes.add(q);
      data.add(q);
    }
  }
  const doc = JSON.parse(fs.readFileSync(record, 'utf8'));
  const nquads = await jsonld.toRDF(doc, { format: 'application/n-quads', safe: true });
  const recordQuads = parse(nquads, 'N-Quads', record);
  if (recordQuads.length === 0) {
    throw new Error(`${record}: no RDF statements`);
  }
  for (const q of recordQuads) {
    data.add(q);
  }

  // The ontology files given are the whole shapes graph: their owl:imports
  // are not fetched. The imported ontologies that are not among the files
  // are listed, so the report says what it did not check against.
  const rdfType = rdf.namedNode('http://www.w3.org/1999/02/22-rdf-syntax-ns#type');
  const owl = (name) => rdf.namedNode('http://www.w3.org/2002/07/owl#' + name);
  const present = new Set();
  for (const q of shapes.match(null, rdfType, owl('Ontology'))) {
    present.add(q.subject.value);
    for (const v of shapes.match(q.subject, owl('versionIRI'))) {
      present.add(v.object.value);
    }
  }
  const absent = new Set();
  const importGraph = async (iri) => {
    if (!present.has(iri.value)) {
      absent.add(iri.value);
    }
    return rdf.dataset();
  };
  // rdf-validate-shacl has no SPARQL engine. UCO's core ontology states three
  // constraints in SPARQL (sh:sparql); they are taken out of the shapes
  // graph and checked below by a direct translation of their queries. Any
  // other SPARQL-based constraint stops the validation rather than being
  // skipped.
  const sparqlChecks = {
    [CORE + 'UcoThing']: notBlank,
    [CORE + 'UcoThing-identifier-regex-shape']: endsWithUUID,
    [CORE + 'hasFacet-shape']: facetOfOneObject,
  };
  const sparql = [];
  for (const q of [...shapes.match(null, rdf.namedNode(SH + 'sparql'))]) {
    const check = sparqlChecks[q.subject.value];
    if (!check) {
      throw new Error(`the shape <${q.subject.value}> has a SPARQL-based constraint, which this validator cannot check`);
    }
    shapes.delete(q);
    const deactivated = [...shapes.match(q.subject, rdf.namedNode(SH + 'deactivated'))].some((d) => d.object.value === 'true');
    if (!deactivated) {
      sparql.push({ shape: q.subject, constraint: q.object, check });
    }
  }

  const validator = new SHACLValidator(shapes, { factory: rdf, importGraph });
  const report = await validator.validate(data);
  const results = report.results.map((r) => ({
    severity: r.severity, focusNode: r.focusNode, path: r.path, value: r.value,
    message: (r.message || []).map((m) => m.value).join('; '), component: r.sourceConstraintComponent,
  }));
  for (const { shape, constraint, check } of sparql) {
    const severity = [...shapes.match(shape, rdf.namedNode(SH + 'severity'))][0]?.object ?? rdf.namedNode(SH + 'Violation');
    const message = [...shapes.match(constraint, rdf.namedNode(SH + 'message'))].map((m) => m.object.value).join('; ');
    const path = [...shapes.match(shape, rdf.namedNode(SH + 'path'))][0]?.object;
    for (const { focusNode, value } of check(rdf, data)) {
      results.push({ severity, focusNode, path, value, message, component: rdf.namedNode(SH + 'SPARQLConstraintComponent') });
    }
  }
  const short = (term) => {
    if (!term) return '-';
    if (term.termType === 'Literal') {
      return JSON.stringify(term.value) + (term.datatype ? '^^<' + term.datatype.value + '>' : '');
    }
    return term.termType === 'BlankNode' ? '_:' + term.value : '<' + term.value + '>';
  };
  const local = (term) => (term ? term.value.replace(/^.*[#/]/, '') : '-');
  for (const r of results) {
    console.log([
      local(r.severity),
      'focus ' + short(r.focusNode),
      'path ' + short(r.path),
      'value ' + short(r.value),
      r.message || local(r.component),
    ].join('\t'));
  }
  if (absent.size > 0) {
    console.log('imported but not among the ontology files: ' + [...absent].sort().join(' '));
  }
  const conforms = results.length === 0;
  console.log(`${conforms ? 'conforms' : 'does not conform'}: ${recordQuads.length} statements of the record, ` +
    `${shapes.size} of the ontology (${ontology.length} files), ${results.length} results`);
  process.exit(conforms ? 0 : 1);
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(2);
});
