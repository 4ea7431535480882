"""The public model pages (issue 20): the catalog and its prices for people, from the same rows
as the OpenRouter endpoint, cached per catalog revision and price validity."""
