-- 031 the decision feed is a CSV that people also open in spreadsheets.
--
-- mowcheck_csv_cell(v): the text of one CSV cell. Control characters (CR, LF, ESC,
-- BEL, ...) become '?', so that text from the registry, ids or an inspector's note
-- cannot break a line or reach a terminal; a cell a spreadsheet would take for a
-- formula (starting with =, +, - or @) gets a leading apostrophe. The same rule as
-- text_csv_cell in pipeline/core/text_check.c, which writes flagged.csv.
CREATE FUNCTION mowcheck_csv_cell(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN c ~ '^[-=+@]' THEN '''' || c ELSE c END
    FROM (SELECT regexp_replace(v, '[[:cntrl:]]', '?', 'g') AS c) x
$$;
