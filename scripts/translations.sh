#!/usr/bin/env bash
# The UI catalogue (Chinese; the English source strings need none).
#   bash scripts/translations.sh extract   # sources -> messages.pot -> zh messages.po (translations kept)
#   bash scripts/translations.sh compile   # zh messages.po -> messages.mo (committed beside it)
# After `extract`, translate every new or emptied msgstr in the .po (no "fuzzy" flags), then `compile`.
# tests/test_translations.py fails while a string is untranslated or the .mo is stale.
set -euo pipefail
cd "$(dirname "$0")/.."

PYBABEL=${PYBABEL:-.venv/bin/pybabel}
DIR=governance/translations
POT=$DIR/messages.pot
LOCALE=zh

case "${1:-}" in
  extract)
    mkdir -p "$DIR"
    # Keywords, extractors and their options all come from babel.cfg. Locations name the file only,
    # so that moving a string within a file does not churn the catalogue.
    "$PYBABEL" --quiet extract --mapping-file=babel.cfg --output-file="$POT" \
      --project="Wangcheng governance" --add-location=file --sort-output --width=100 .
    if [ -f "$DIR/$LOCALE/LC_MESSAGES/messages.po" ]; then
      # --no-fuzzy-matching: a new string starts empty instead of borrowing a similar one's translation.
      "$PYBABEL" --quiet update --input-file="$POT" --output-dir="$DIR" --locale="$LOCALE" \
        --no-fuzzy-matching --ignore-obsolete --width=100
    else
      "$PYBABEL" init --input-file="$POT" --output-dir="$DIR" --locale="$LOCALE" --width=100
    fi
    ;;
  compile)
    # --statistics reports untranslated strings; a fuzzy entry is never compiled (no --use-fuzzy).
    "$PYBABEL" compile --directory="$DIR" --domain=messages --statistics
    ;;
  *)
    echo "usage: $0 extract|compile" >&2
    exit 2
    ;;
esac
