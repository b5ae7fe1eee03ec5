/**
 * `POST /v1/embeddings`: deterministic vectors from the text, a hashed bag of words. Each
 * lower-cased word (letters and digits) adds ±1 at FNV-1a(word) mod `dimensions` (the sign
 * from another bit of the hash); the vector is then scaled to length 1, so texts sharing
 * words have a positive cosine. A text with no word gets the unit vector on axis 0.
 *
 * Read: `input` (a string, an array of strings, or token arrays, which are read as their
 * numbers joined by spaces), `dimensions` (default 1536, at most MAX_DIMENSIONS),
 * `encoding_format` (`float`, the default, or `base64`: little-endian float32, as the
 * openai SDK asks for by default).
 */
import { MockRequestError, optionalString, requireObject } from './request.ts';
import { estimateTokens } from './tokens.ts';

export const DEFAULT_DIMENSIONS = 1536;
export const MAX_DIMENSIONS = 8192;
/** inputs per request, as OpenAI's limit */
export const MAX_INPUTS = 2048;

export interface EmbeddingsRequest {
  model: string;
  inputs: string[];
  dimensions: number;
  encoding: 'float' | 'base64';
  promptTokens: number;
}

export function readEmbeddings(raw: unknown): EmbeddingsRequest {
  const body = requireObject(raw);
  const inputs = readInputs(body.input);
  const dimensions = body.dimensions ?? DEFAULT_DIMENSIONS;
  if (
    typeof dimensions !== 'number' ||
    !Number.isInteger(dimensions) ||
    dimensions < 1 ||
    dimensions > MAX_DIMENSIONS
  ) {
    throw new MockRequestError(
      `dimensions must be an integer from 1 to ${MAX_DIMENSIONS}`,
      'dimensions',
    );
  }
  const encoding = body.encoding_format ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64') {
    throw new MockRequestError("encoding_format must be 'float' or 'base64'", 'encoding_format');
  }
  return {
    model: optionalString(body, 'model', 'mock-embedding'),
    inputs,
    dimensions,
    encoding,
    promptTokens: inputs.reduce((sum, text) => sum + estimateTokens(text), 0),
  };
}

function readInputs(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  const isTokens = (v: unknown) => Array.isArray(v) && v.every((n) => typeof n === 'number');
  if (isTokens(input)) return [(input as number[]).join(' ')];
  if (
    Array.isArray(input) &&
    input.length > 0 &&
    input.length <= MAX_INPUTS &&
    input.every((v) => typeof v === 'string' || isTokens(v))
  ) {
    return input.map((v) => (typeof v === 'string' ? v : (v as number[]).join(' ')));
  }
  throw new MockRequestError(
    `input must be a string, or 1 to ${MAX_INPUTS} strings or token arrays`,
    'input',
  );
}

function fnv1a(word: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    hash ^= word.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function embed(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const hash = fnv1a(word);
    vector[hash % dimensions]! += hash & 0x80000000 ? -1 : 1;
  }
  let norm = 0;
  for (const x of vector) norm += x * x;
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) vector[i]! *= scale;
  return vector;
}

export function embeddingsBody(request: EmbeddingsRequest) {
  const data = request.inputs.map((text, index) => {
    const vector = embed(text, request.dimensions);
    const embedding =
      request.encoding === 'base64'
        ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
        : Array.from(vector);
    return { object: 'embedding', index, embedding };
  });
  return {
    object: 'list',
    data,
    model: request.model,
    usage: { prompt_tokens: request.promptTokens, total_tokens: request.promptTokens },
  };
}
