/** msgpackr's build without `new Function` (its package exports it, without types). */
declare module 'msgpackr/unpack-no-eval' {
  export { Unpackr } from 'msgpackr';
}
