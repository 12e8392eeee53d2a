"""The command lines, `glagcn-video` (the demo) and `glagcn-train`; they may
import every part of the package."""
