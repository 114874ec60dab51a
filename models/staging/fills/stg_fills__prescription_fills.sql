with

fills_source as (
    select * from {{ source('fills', 'prescription_fills') }}
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
fields_trimmed as materialized (
    select
        load_id,
        source_file,
        file_md5,
        line_number,
        loaded_at,
        record is null as is_malformed,
        {{ json_text('record', 'rx_id') }} as rx_id,
        {{ json_text('record', 'patient_id') }} as patient_id,
        {{ json_text('record', 'prescriber_id') }} as prescriber_id,
        {{ json_text('record', 'ndc') }} as ndc,
        lower({{ json_text('record', 'drug_name') }}) as drug_name,
        {{ json_text('record', 'fill_date') }} as fill_date_text,
        {{ json_text('record', 'days_supply') }} as days_supply_text,
        {{ json_text('record', 'quantity') }} as quantity_text,
        {{ json_text('record', 'cost') }} as cost_text
    from fills_source
),

-- materialized: the parsed values are used several times below
values_parsed as materialized (
    select
        load_id,
        source_file,
        file_md5,
        line_number,
        loaded_at,
        is_malformed,
        rx_id,
        patient_id,
        prescriber_id,
        ndc,
        drug_name,
        {{ safe_date('fill_date_text') }} as fill_date,
        {{ safe_integer('days_supply_text') }} as days_supply,
        {{ safe_numeric('quantity_text') }} as quantity,
        {{ safe_numeric('cost_text') }} as cost_number
    from fields_trimmed
),

fills_checked as (
    select
        *,
        case
            when is_malformed then 'malformed_row'
            when rx_id is null then 'missing_rx_id'
            -- a later landing of an rx_id already seen (the first landing stays)
            when
                row_number() over (
                    partition by rx_id
                    order by source_file, line_number, file_md5
                ) > 1
                then 'duplicate_rx_id'
            when patient_id is null then 'missing_patient_id'
            when prescriber_id is null then 'missing_prescriber_id'
            when fill_date is null then 'invalid_fill_date'
            when days_supply is null or days_supply <= 0 then 'invalid_days_supply'
            when cost_number < 0 then 'negative_cost'
            when ndc is null or ndc !~ '{{ var("ndc_pattern") }}' then 'malformed_ndc'
        end as reject_rule
    from values_parsed
),

fills_final as (
    select
        load_id,
        source_file,
        file_md5,
        line_number,
        loaded_at,
        rx_id,
        patient_id,
        prescriber_id,
        ndc,
        drug_name,
        fill_date,
        days_supply,
        quantity,
        {{ to_money('cost_number') }} as cost,  -- noqa: RF04
        reject_rule
    from fills_checked
)

select * from fills_final
