/**
 * `npm run build`: compiles the library, the CLI and the worker to dist/ (JavaScript, declarations,
 * source maps) with the TypeScript compiler and tsconfig.build.json.
 *
 * The sources import each other without extensions (`'../domain/fleet'`, resolved by bundlers and
 * tsx), which Node's ES module loader refuses. So the emit rewrites every relative specifier to
 * the file it names, in the JavaScript and in the declarations alike (`'../domain/fleet.js'`,
 * `'./campaign/index.js'`): dist/ then runs on plain Node.js and type-checks under any
 * `moduleResolution` a consumer picks (node16, nodenext, bundler).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const configPath = path.join(root, 'tsconfig.build.json');

function fail(diagnostics: readonly ts.Diagnostic[]): never {
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  };
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}

const configFile = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
if (configFile.error) fail([configFile.error]);
const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root, undefined, configPath);
if (parsed.errors.length > 0) fail(parsed.errors);

const outDir = parsed.options.outDir ?? path.join(root, 'dist');
fs.rmSync(outDir, { recursive: true, force: true });

/**
 * `./x` → `./x.js`, or `./x/index.js` for a directory, judged from the importing source file; a
 * deep import into a package without `exports` (`@temporalio/common/lib/search-attributes`) gets
 * `.js` too, or Node.js will not find it.
 */
function withExtension(specifier: string, fromFile: string): string {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
    const deep = /^(@[^/]+\/)?[^/@][^/]*\/.+/.test(specifier) && !/\.[cm]?js$/.test(specifier);
    return deep && fs.existsSync(path.join(root, 'node_modules', `${specifier}.js`)) ? `${specifier}.js` : specifier;
  }
  if (/\.(m?js|json)$/.test(specifier)) return specifier;
  const base = path.resolve(path.dirname(fromFile), specifier);
  if (fs.existsSync(`${base}.ts`)) return `${specifier}.js`;
  if (fs.existsSync(path.join(base, 'index.ts'))) return `${specifier}/index.js`;
  throw new Error(`${path.relative(root, fromFile)}: cannot resolve ${specifier}`);
}

function rewriteSpecifiers(context: ts.TransformationContext): ts.Transformer<ts.SourceFile> {
  const { factory } = context;
  return (sourceFile: ts.SourceFile) => {
    const fileName = sourceFile.fileName;
    const literal = (node: ts.Expression) =>
      ts.isStringLiteral(node) ? factory.createStringLiteral(withExtension(node.text, fileName)) : node;
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isImportDeclaration(node)) {
        return factory.updateImportDeclaration(
          node,
          node.modifiers,
          node.importClause,
          literal(node.moduleSpecifier),
          node.attributes,
        );
      }
      if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
        return factory.updateExportDeclaration(
          node,
          node.modifiers,
          node.isTypeOnly,
          node.exportClause,
          literal(node.moduleSpecifier),
          node.attributes,
        );
      }
      // import('./x') in code, and import('./x').T in declarations.
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
        const [first, ...rest] = node.arguments;
        return factory.updateCallExpression(node, node.expression, node.typeArguments, [
          literal(ts.visitEachChild(first, visit, context) as ts.Expression),
          ...rest,
        ]);
      }
      if (
        ts.isImportTypeNode(node) &&
        ts.isLiteralTypeNode(node.argument) &&
        ts.isStringLiteral(node.argument.literal)
      ) {
        return factory.updateImportTypeNode(
          node,
          factory.createLiteralTypeNode(literal(node.argument.literal) as ts.StringLiteral),
          node.attributes,
          node.qualifier,
          node.typeArguments?.map((t) => ts.visitNode(t, visit) as ts.TypeNode),
          node.isTypeOf,
        );
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitNode(sourceFile, visit) as ts.SourceFile;
  };
}

const started = Date.now();
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
const preEmit = ts.getPreEmitDiagnostics(program);
if (preEmit.some((d) => d.category === ts.DiagnosticCategory.Error)) fail(preEmit);
const result = program.emit(undefined, undefined, undefined, false, {
  before: [rewriteSpecifiers],
  afterDeclarations: [rewriteSpecifiers as ts.TransformerFactory<ts.SourceFile | ts.Bundle>],
});
if (result.emitSkipped || result.diagnostics.length > 0) fail(result.diagnostics);
// Plain JavaScript that runs as it is, from the checkout and from dist/ alike.
const COPIED = ['worker/workflow-thread-preload.mjs'];
for (const file of COPIED) fs.copyFileSync(path.join(root, file), path.join(outDir, file));
const files = parsed.fileNames.length + COPIED.length;
process.stdout.write(`build: ${files} files to ${path.relative(root, outDir)}/ in ${Date.now() - started} ms\n`);
