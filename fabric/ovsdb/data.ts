/**
 * OVSDB data as it appears on the wire (RFC 7047 §5.1): atoms, ["set", …], ["map", …], ["uuid", …],
 * ["named-uuid", …], with small builders and readers. Values stay in wire form so that what a caller
 * builds is exactly what is sent; the readers normalise the two spellings of a one-element set.
 */

export type Uuid = ['uuid', string];
export type NamedUuid = ['named-uuid', string];
export type Atom = string | number | boolean | Uuid | NamedUuid;
export type OvsdbSet = ['set', Atom[]];
export type OvsdbMap = ['map', [Atom, Atom][]];
export type Value = Atom | OvsdbSet | OvsdbMap;
/** A row as sent or received: column name → value. `_uuid` and `_version` appear in received rows. */
export type Row = Record<string, Value>;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ID_RE = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

export function isUuidString(text: string): boolean {
  return UUID_RE.test(text);
}

export function isIdentifier(text: string): boolean {
  return ID_RE.test(text);
}

export function uuid(text: string): Uuid {
  return ['uuid', text];
}

export function namedUuid(name: string): NamedUuid {
  return ['named-uuid', name];
}

export function set(...atoms: Atom[]): OvsdbSet {
  return ['set', atoms];
}

/** Build a map from an object, a Map or a list of pairs. */
export function map(entries: Record<string, Atom> | Map<Atom, Atom> | [Atom, Atom][]): OvsdbMap {
  if (Array.isArray(entries)) return ['map', entries.map(([k, v]) => [k, v])];
  if (entries instanceof Map) return ['map', [...entries.entries()]];
  return ['map', Object.entries(entries)];
}

export function isUuid(value: unknown): value is Uuid {
  return Array.isArray(value) && value.length === 2 && value[0] === 'uuid' && typeof value[1] === 'string';
}

export function isNamedUuid(value: unknown): value is NamedUuid {
  return Array.isArray(value) && value.length === 2 && value[0] === 'named-uuid' && typeof value[1] === 'string';
}

export function isSet(value: unknown): value is OvsdbSet {
  return Array.isArray(value) && value.length === 2 && value[0] === 'set' && Array.isArray(value[1]);
}

export function isMap(value: unknown): value is OvsdbMap {
  return Array.isArray(value) && value.length === 2 && value[0] === 'map' && Array.isArray(value[1]);
}

/** Elements of a set-typed value (a bare atom is a one-element set). */
export function setElements(value: Value | undefined): Atom[] {
  if (value === undefined) return [];
  if (isSet(value)) return value[1];
  if (isMap(value)) throw new TypeError('setElements: value is a map');
  return [value];
}

export function mapEntries(value: Value | undefined): [Atom, Atom][] {
  if (value === undefined) return [];
  if (isMap(value)) return value[1];
  if (isSet(value) && value[1].length === 0) return [];
  throw new TypeError('mapEntries: value is not a map');
}

/** A string→string map (e.g. other_config, external_ids) as a plain object. */
export function mapToObject(value: Value | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of mapEntries(value)) out[String(k)] = typeof v === 'string' ? v : atomKey(v);
  return out;
}

/** The uuid string of a reference column holding one reference, else undefined. */
export function uuidOf(value: Value | undefined): string | undefined {
  const elements = value === undefined ? [] : setElements(value);
  return elements.length === 1 && isUuid(elements[0]) ? elements[0][1] : undefined;
}

/** The uuid strings of a set of references. */
export function uuidsOf(value: Value | undefined): string[] {
  return setElements(value).filter(isUuid).map((u) => u[1]);
}

/** A canonical string for an atom, to compare and key atoms. */
export function atomKey(atom: Atom): string {
  if (Array.isArray(atom)) return `${atom[0]}:${atom[1]}`;
  return `${typeof atom}:${String(atom)}`;
}

/** The single element of a scalar or optional column, or undefined for an empty set. */
export function scalar(value: Value | undefined): Atom | undefined {
  const elements = value === undefined ? [] : isMap(value) ? [] : setElements(value);
  return elements.length === 1 ? elements[0] : undefined;
}

/**
 * Equality as OVSDB sees it: sets and maps compare without order, a one-element set equals its atom.
 */
export function valuesEqual(a: Value | undefined, b: Value | undefined): boolean {
  const aMap = a !== undefined && isMap(a);
  const bMap = b !== undefined && isMap(b);
  if (aMap || bMap) {
    const ea = aMap ? mapEntries(a) : setElements(a).length === 0 ? [] : null;
    const eb = bMap ? mapEntries(b) : setElements(b).length === 0 ? [] : null;
    if (!ea || !eb || ea.length !== eb.length) return false;
    const index = new Map(ea.map(([k, v]) => [atomKey(k), atomKey(v)]));
    return eb.every(([k, v]) => index.get(atomKey(k)) === atomKey(v));
  }
  const sa = setElements(a).map(atomKey).sort();
  const sb = setElements(b).map(atomKey).sort();
  return sa.length === sb.length && sa.every((x, i) => x === sb[i]);
}
