// Prints the `Database` type and `Constants` of a types file as sorted `path: type` lines, for
// scripts/types-interop to compare pgkeel's rendering with `supabase gen types` independently of
// layout and order. Usage: node flatten.cjs FILE.ts
const ts = require("typescript")
const file = process.argv[2]
const program = ts.createProgram([file], { strict: true, noEmit: true, skipLibCheck: true, types: [] })
const checker = program.getTypeChecker()
const source = program.getSourceFile(file)
const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias
const out = []

function show(type, depth = 0) {
  if (type.aliasSymbol && type.aliasSymbol.name === "Json") return "Json"
  const leaf = ts.TypeFlags.Primitive | ts.TypeFlags.Unknown | ts.TypeFlags.Never | ts.TypeFlags.Any
  if (type.flags & leaf) return checker.typeToString(type, undefined, flags)
  if (depth > 8) return checker.typeToString(type, undefined, flags)
  if (type.isUnion()) {
    return type.types.map((t) => show(t, depth + 1)).sort().join(" | ")
  }
  const props = type.getProperties ? type.getProperties() : []
  if (props.length && !(type.flags & ts.TypeFlags.StringLike) && !checker.isArrayType(type) && !checker.isTupleType(type)) {
    return "{ " + props.map((p) => {
      const opt = p.flags & ts.SymbolFlags.Optional ? "?" : ""
      return p.name + opt + ": " + show(checker.getTypeOfSymbol(p), depth + 1)
    }).sort().join("; ") + " }"
  }
  if (checker.isArrayType(type)) {
    return "(" + show(checker.getTypeArguments(type)[0], depth + 1) + ")[]"
  }
  if (checker.isTupleType(type)) {
    return "[" + checker.getTypeArguments(type).map((t) => show(t, depth + 1)).join(", ") + "]"
  }
  return checker.typeToString(type, undefined, flags)
}

function walk(path, type, depth) {
  const props = type.getProperties()
  const object = !(type.flags & (ts.TypeFlags.Primitive | ts.TypeFlags.Union)) && !checker.isArrayType(type) && !checker.isTupleType(type)
  if (depth < 6 && props.length && object) {
    for (const p of props) walk(path + "." + p.name, checker.getTypeOfSymbol(p), depth + 1)
  } else {
    out.push(path + ": " + show(type))
  }
}

for (const stmt of source.statements) {
  if (ts.isTypeAliasDeclaration(stmt) && stmt.name.text === "Database") {
    walk("Database", checker.getTypeAtLocation(stmt.name), 0)
  }
  if (ts.isVariableStatement(stmt)) {
    for (const d of stmt.declarationList.declarations) {
      if (d.name.getText(source) === "Constants") out.push("Constants: " + show(checker.getTypeAtLocation(d.name)))
    }
  }
  if (ts.isTypeAliasDeclaration(stmt) && stmt.name.text !== "Database") out.push("type " + stmt.name.text)
}
console.log(out.sort().join("\n"))
