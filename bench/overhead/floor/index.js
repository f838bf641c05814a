// An empty program: no resource, no import beyond what the SDK's runner loads itself.
"use strict";
