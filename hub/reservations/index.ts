export * from './service.js'
export * from './rules.js'
export * from './errors.js'
export * from './book-nearest.js'
