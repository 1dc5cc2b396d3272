-- A tree's town district (Stadtbezirk), for the watering season report per district; NULL: none named
-- (the report then counts the tree under its park).
ALTER TABLE trees ADD COLUMN district TEXT;
