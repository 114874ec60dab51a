{#- Top-level keys silver decodes into columns; every other key stays in extra_attributes. -#}
{%- set known_keys = [
    'event_id', 'event_type', 'event_ts', 'encounter_id', 'patient_id', 'patient',
    'hospital_id', 'department_id', 'bed_id', 'insurance_type', 'arrival_mode',
] -%}

with

events_source as (
    select * from {{ source('adt', 'events') }}
),

adt_event_types as (
    select * from {{ ref('adt_event_types') }}
),

gender_map as (
    select * from {{ ref('gender_map') }}
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
events_decoded as materialized (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        event,
        raw_line,
        {{ json_text('event', 'event_id') }} as event_id,
        event ->> 'event_type' as event_type_raw,
        event ->> 'event_ts' as event_ts_raw,
        {{ safe_timestamptz("btrim(event ->> 'event_ts')") }} as event_at,
        {{ json_text('event', 'encounter_id') }} as encounter_id,
        {{ json_text('event', 'patient_id') }} as patient_id,
        {{ json_text('event', 'hospital_id') }} as hospital_id,
        {{ json_text('event', 'department_id') }} as department_id,
        {{ json_text('event', 'bed_id') }} as bed_id,
        event -> 'patient' ->> 'gender' as gender_raw,
        event -> 'patient' ->> 'date_of_birth' as date_of_birth_raw,
        {{ safe_date("btrim(event -> 'patient' ->> 'date_of_birth')") }} as date_of_birth,
        event -> 'patient' ->> 'age' as reported_age_raw,
        {{ safe_integer("btrim(event -> 'patient' ->> 'age')") }} as reported_age_number,
        {{ json_text('event', 'insurance_type') }} as insurance_type,
        {{ json_text('event', 'arrival_mode') }} as arrival_mode,
        nullif(
            event - cast(array[
                {%- for key in known_keys %}
                    '{{ key }}'{% if not loop.last %},{% endif %}
                {%- endfor %}
            ] as text[]),
            cast('{}' as jsonb)
        ) as extra_attributes
    from events_source
),

-- the age at the event's reporting date, in whole years, from the date of birth
ages_from_birth as (
    select
        events_decoded.*,
        cast(
            date_part(
                'year',
                age(
                    cast({{ to_reporting_date('events_decoded.event_at') }} as timestamp),
                    cast(events_decoded.date_of_birth as timestamp)
                )
            ) as integer
        ) as age_from_date_of_birth
    from events_decoded
),

events_mapped as (
    select
        ages_from_birth.load_id,
        ages_from_birth.loaded_at,
        ages_from_birth.source_file,
        ages_from_birth.file_md5,
        ages_from_birth.line_number,
        ages_from_birth.event,
        ages_from_birth.raw_line,
        ages_from_birth.event_id,
        ages_from_birth.event_type_raw,
        adt_event_types.event_type,
        ages_from_birth.event_ts_raw,
        ages_from_birth.event_at,
        ages_from_birth.encounter_id,
        ages_from_birth.patient_id,
        ages_from_birth.hospital_id,
        ages_from_birth.department_id,
        ages_from_birth.bed_id,
        ages_from_birth.gender_raw,
        coalesce(gender_map.gender, 'unknown') as gender,
        ages_from_birth.date_of_birth_raw,
        ages_from_birth.date_of_birth,
        ages_from_birth.reported_age_raw,
        case
            when ages_from_birth.reported_age_number between 0 and {{ var('max_valid_age') }}
                then ages_from_birth.reported_age_number
        end as reported_age,
        ages_from_birth.age_from_date_of_birth,
        ages_from_birth.insurance_type,
        ages_from_birth.arrival_mode,
        ages_from_birth.extra_attributes
    from ages_from_birth
    left join adt_event_types
        on lower(btrim(ages_from_birth.event_type_raw)) = adt_event_types.event_type_raw
    left join gender_map
        on lower(btrim(ages_from_birth.gender_raw)) = gender_map.gender_raw
),

ages_checked as (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        event,
        raw_line,
        event_id,
        event_type_raw,
        event_type,
        event_ts_raw,
        event_at,
        encounter_id,
        patient_id,
        hospital_id,
        department_id,
        bed_id,
        gender_raw,
        gender,
        date_of_birth_raw,
        date_of_birth,
        reported_age_raw,
        reported_age,
        case
            when reported_age is not null then reported_age
            when age_from_date_of_birth between 0 and {{ var('max_valid_age') }}
                then age_from_date_of_birth
        end as age_at_event,
        reported_age_raw is not null and reported_age is null as is_age_invalid,
        insurance_type,
        arrival_mode,
        extra_attributes
    from events_mapped
)

select * from ages_checked
