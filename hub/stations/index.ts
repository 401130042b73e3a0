export * from './registry.js'
export * from './spatial-index.js'
export * from './nearest.js'
