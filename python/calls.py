#
# sfcrime: the calls file's 14 fields, in the file's order: what both Spark sources
# parse a record into (spark-sql-kafka + from_json, and the sfcrime connector).
#
CALL_FIELDS = [
    "crime_id", "original_crime_type_name", "report_date", "call_date", "offense_date",
    "call_time", "call_date_time", "disposition", "address", "city", "state", "agency_id",
    "address_type", "common_location",
]
