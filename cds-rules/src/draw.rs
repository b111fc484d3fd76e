//! The compiled evaluation graph as a picture (SVG), nodes shared between rules marked.
